"""No PII in clear in Temporal: the raw histories of a real campaign and an inbound call, read without the codec.

A campaign whose answered calls are taken by the agent (sim carrier, text mode) and an inbound call
(LiveKit stand-in) run on the time-skipping server with the suite's codec. Their histories are then
fetched straight from the server's API, serialized, and searched byte for byte for the callees' phone
numbers, names, and everything said, noted or shared on the calls. The same texts are found once the
payloads are decrypted: the search looks where the PII is carried.
"""

import uuid
from collections.abc import Iterator

from codec_test_keys import suite_codec
from conftest import server_clock
from google.protobuf.message import Message
from inbound_helpers import answer_inbound_call, inbound_worker_settings
from livekit_standin import LiveKitStandIn
from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.api.history.v1 import History
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import Client
from workflow_helpers import new_campaign_id, seed, settings, start_campaign

from infra.codec import ENCRYPTED_ENCODING
from schemas.agent import AgentConfig
from schemas.contact import Contact
from schemas.inbound import INBOUND_CAMPAIGN_ID, inbound_workflow_id
from schemas.workflow_io import campaign_workflow_id, contact_workflow_id
from simulator.agent_call import make_agent_call
from simulator.carrier import SimCarrier
from store import queries
from worker.main import build_worker

AGENT = AgentConfig(
    name="sam",
    instructions="You are Sam, calling customers about their Ringflow onboarding. Be brief and polite.",
    greeting="Hi, this is Sam from Ringflow. Do you have a minute?",
)
# Ofcom's drama range: valid numbers that are never a real line. Names no template or persona uses.
PEOPLE = [
    Contact(external_id="c1", name="Genevieve Okonkwo", phone="+442079460417", persona="qualifies"),
    Contact(external_id="c2", name="Bartholomew Quennell", phone="+442079460528", persona="answers"),
    Contact(external_id="c3", name="Wilhelmina Achterberg", phone="+442079460639", persona="not_interested"),
]
CALLER = "+14155550177"
CALLER_SAID = ["Hello, it's Philippa Vandersloot, about my order 4471", "My postcode is SW1A 2AA"]
CALLER_NOTE = "Philippa Vandersloot wants a refund for order 4471"


async def raw_history(client: Client, workflow_id: str) -> History:
    """The history as the server stores it: no data converter, no codec on the way."""
    history = History()
    page_token = b""
    while True:
        response = await client.workflow_service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=client.namespace,
                execution=WorkflowExecution(workflow_id=workflow_id),
                next_page_token=page_token,
            )
        )
        history.events.extend(response.history.events)
        page_token = response.next_page_token
        if not page_token:
            return history


NOT_CODEC_PAYLOADS = frozenset({"search_attributes", "header"})
"""Search attributes stay readable for the server's visibility store (ids and outcomes only); headers carry
trace context and do not go through the codec. The byte search covers both all the same."""
SDK_BOOKKEEPING = frozenset({("details", "data"), ("details", "patch-data")})
"""Markers' own records that the SDK writes itself: a local activity's (activity id and type, attempt, times)
and a ``workflow.patched`` call's (the patch id)."""


def payloads_in(message: Message) -> Iterator[Payload]:
    """Every Payload anywhere in a message that the data converter wrote."""
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE or field.name in NOT_CODEC_PAYLOADS:
            continue
        if field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            if value_field.type != value_field.TYPE_MESSAGE:
                continue
            children = [child for key, child in value.items() if (field.name, key) not in SDK_BOOKKEEPING]
        else:
            children = list(value) if field.is_repeated else [value]
        for child in children:
            yield from payloads_in(child)


async def test_raw_histories_hold_no_phone_number_name_or_transcript_in_clear(time_env, session_factory, db_url):
    client = time_env.client
    campaign_id = new_campaign_id()
    campaign = settings(max_attempts=1)
    await seed(session_factory, campaign_id, PEOPLE, campaign)
    carrier = SimCarrier(time_scale=0.0, clock=server_clock, agent_call=make_agent_call(client, server_clock))
    call_sid = "CA" + uuid.uuid4().hex
    async with LiveKitStandIn() as standin:
        task_queue = f"tq-pii-{uuid.uuid4().hex[:8]}"
        worker_settings = inbound_worker_settings(standin, db_url, task_queue)
        async with build_worker(client, worker_settings, sessions=session_factory, carrier=carrier):
            handle = await start_campaign(client, task_queue, campaign_id, campaign, agent=AGENT)
            await handle.result()
            await answer_inbound_call(
                client, task_queue, call_sid=call_sid, caller=CALLER, agent=AGENT, said=CALLER_SAID, note=CALLER_NOTE
            )

    async with session_factory() as session:
        said = [
            line.text
            for person in PEOPLE
            for line in await queries.transcript_for(session, campaign_id, person.external_id)
            if line.speaker == "callee"
        ]
        notes = [n for person in PEOPLE for n in await queries.notes_for(session, campaign_id, person.external_id)]
        inbound_notes = await queries.notes_for(session, INBOUND_CAMPAIGN_ID, call_sid)
    assert len(said) >= len(PEOPLE), "every callee spoke to the agent"
    assert inbound_notes == [CALLER_NOTE]
    pii = [
        *(p.phone for p in PEOPLE),
        *(p.phone.removeprefix("+") for p in PEOPLE),
        *(p.name for p in PEOPLE),
        *(p.name.split()[-1] for p in PEOPLE),
        CALLER,
        *CALLER_SAID,
        "Vandersloot",
        *said,
        *notes,
    ]

    workflow_ids = [
        campaign_workflow_id(campaign_id),
        *(contact_workflow_id(campaign_id, p.external_id) for p in PEOPLE),
        inbound_workflow_id(call_sid),
    ]
    decrypted = b""
    for workflow_id in workflow_ids:
        history = await raw_history(client, workflow_id)
        stored = history.SerializeToString()
        leaked = [text for text in pii if text.encode() in stored]
        assert not leaked, f"{workflow_id} stores in clear: {leaked}"
        sealed = list(payloads_in(history))
        unsealed = [dict(p.metadata) for p in sealed if p.metadata["encoding"] != ENCRYPTED_ENCODING]
        assert sealed and not unsealed, f"{workflow_id} has payloads without encryption: {unsealed}"
        decrypted += b"".join(p.SerializeToString() for p in await suite_codec().decode(sealed))

        described = await client.get_workflow_handle(workflow_id).describe()
        attributes = " ".join(f"{pair.key.name}={pair.value}" for pair in described.typed_search_attributes)
        assert not [text for text in pii if text in attributes], f"{workflow_id} search attributes: {attributes}"

    assert [text for text in pii if text.encode() not in decrypted] == [], "the histories do carry all of it, sealed"
