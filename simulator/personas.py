"""Scripted callees for the offline sim: what each persona says, one line per turn."""

PERSONA_LINES: dict[str, list[str]] = {
    "answers": [
        "Hello?",
        "Sure, I have a minute. What is this about?",
        "Okay. What's the offer exactly?",
        "Thanks, I'll think about it.",
    ],
    "qualifies": [
        "Hi, yes, speaking.",
        "We have 40 employees and a budget of around 5,000 a month, and I'm interested.",
    ],
    "callback": [
        "Hello?",
        "Sorry, I'm in a meeting. Can you call me back later?",
        # Soon enough that the offline demo sees the callback made within its minute or so.
        "In a minute, please.",
    ],
    "callback_tomorrow": [
        "Hello, who is this?",
        "I'm driving right now, call me back tomorrow at 10.",
    ],
    "voicemail": [
        "Hi, you've reached Alex. I'm not available to take your call, please leave a message after the tone.",
    ],
    "not_interested": [
        "Hello?",
        "No, I'm not interested, thanks.",
    ],
    "do_not_call": [
        "Hello?",
        "Please don't call me again.",
    ],
    "hostile": [
        "What do you want?",
        "This is a scam, get lost!",
    ],
    "off_script": [
        "Hello?",
        "Do you know if it's going to rain today?",
        "Ha, fair enough. My name is Dana Reyes, email dana@example.com.",
        "What time is it where I am, by the way?",
        "Thanks, that's all for now. No thanks.",
    ],
    "arabic": [
        "ألو؟",
        "أنا مشغول الآن، اتصل بي غدا الساعة 10",
    ],
    "asks_for_slots": [
        "Hello?",
        "Before that: could I book an appointment? The day is 2026-12-01.",
        "Thanks, I'll think about it.",
    ],
    "asks_for_billing": [
        "Hello?",
        "Actually I'm calling about a wrong charge on my invoice. Could you put me through to billing?",
        "Thanks, I'll think about it.",
    ],
}
