"""An agent's knowledge base: TXT, Markdown and PDF documents cut into passages that name their section, a
question answered by one of three real-looking documents finding that passage first, the API and CLI round trips,
clear refusals of files an agent cannot read, and the search_knowledge tool through the call's workflow."""

import io
import itertools
import uuid
from collections import OrderedDict
from datetime import timedelta

import numpy as np
import pytest
from conftest import server_clock
from embeddings_standin import EmbeddingsStandin
from livekit.agents import AgentSession
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas
from typer.testing import CliRunner
from voice_fakes import spoken
from workflow_helpers import (
    AGENT,
    ANY_HOUR,
    contact,
    contact_between_calls,
    new_campaign_id,
    seed,
    settings,
)

from activities.knowledge import KnowledgeActivities
from api.services import knowledge as knowledge_service
from cli.app import app
from infra import knowledge as infra_knowledge
from infra.embeddings import Embedder, embedder_for
from infra.knowledge import CHUNK_CHARS, UnreadableDocumentError, chunk_document
from schemas.agent import AgentConfig, AgentTool, CallJob
from schemas.knowledge import SearchKnowledge
from schemas.settings import Settings
from schemas.workflow_io import ContactWorkflowInput, contact_workflow_id
from simulator.carrier import SimCarrier
from simulator.scripted_llm import ScriptedLLM
from store import knowledge as store_knowledge
from store import queries
from store.models import DEFAULT_ORG_ID
from voice_worker.agent import RingflowAgent
from voice_worker.bridge import BridgeError
from voice_worker.temporal_bridge import TemporalCallBridge
from worker.main import build_worker
from workflows.contact import ContactWorkflow

RETURNS_POLICY = b"""# Returns policy

Thank you for shopping with Northwind Outfitters. This policy explains how returns, refunds and exchanges work.

## Returning an item

You can return any unworn item within 30 days of delivery. Items must be in their original packaging with the
tags attached. Start a return from the Orders page of your account and print the prepaid label.

## Refunds

Once the warehouse receives your parcel, the refund is issued to the original payment method within 5 business
days. Delivery charges are refunded only when the item arrived damaged or was sent in error.

## Exchanges

To swap a size or colour, return the item and place a new order: exchanges are not made by post.
"""

SHIPPING_TIMES = b"""Shipping times

Standard delivery within the UK takes 3 to 5 working days and is free on orders over 50 pounds.

Express delivery arrives the next working day when the order is placed before 2pm, Monday to Friday.

International orders arrive within 7 to 14 days. Customs duties and import taxes are paid by the recipient.

We cannot deliver to PO boxes or forces addresses.
"""

WARRANTY_PAGES = [
    [
        "Warranty",
        "Every Northwind appliance comes with a two-year manufacturer's warranty.",
        "It covers defects in materials and workmanship from the date of purchase.",
    ],
    [
        "Making a claim",
        "To make a warranty claim, keep your receipt and contact support with the serial number.",
        "The warranty does not cover accidental damage, misuse or normal wear and tear.",
    ],
]


def warranty_pdf() -> bytes:
    """A real two-page PDF, written with reportlab."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    for lines in WARRANTY_PAGES:
        text = pdf.beginText(72, 770)
        for line in lines:
            text.textLine(line)
        pdf.drawText(text)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


DOCUMENTS = {"returns_policy.md": RETURNS_POLICY, "shipping.txt": SHIPPING_TIMES, "warranty.pdf": warranty_pdf()}
KNOWING = AGENT.model_copy(update={"tools": {**AGENT.tools, AgentTool.SEARCH_KNOWLEDGE: True}})


async def _agent_with_documents(
    session_factory, agent: AgentConfig = KNOWING, org_id: str = DEFAULT_ORG_ID, embedder: Embedder | None = None
) -> None:
    async with session_factory() as session:
        await queries.delete_agent(session, agent.name, org_id)
        await queries.save_agent(session, agent, org_id)
        await session.commit()
        for name, data in DOCUMENTS.items():
            await knowledge_service.add_document(
                session, org_id=org_id, agent=agent.name, name=name, data=data, actor="tests", embedder=embedder
            )


# ---- chunking ------------------------------------------------------------------------------------


def test_markdown_is_cut_at_its_headings_and_each_chunk_names_its_section() -> None:
    chunks = chunk_document(RETURNS_POLICY, "text/markdown")
    assert [chunk.section for chunk in chunks] == ["Returns policy", "Returning an item", "Refunds", "Exchanges"]
    assert chunks[2].text.startswith("Once the warehouse receives your parcel")
    assert "# " not in "".join(chunk.text for chunk in chunks)


def test_text_paragraphs_are_gathered_into_chunks_of_about_800_characters_with_a_little_overlap() -> None:
    paragraphs = [f"Paragraph {n} says something about delivery number {n}. " * 3 for n in range(40)]
    chunks = chunk_document("\n\n".join(paragraphs).encode(), "text/plain")
    assert len(chunks) > 5
    assert all(len(chunk.text) <= CHUNK_CHARS for chunk in chunks)
    for before, after in itertools.pairwise(chunks):
        assert after.text.split("\n")[0] == before.text.split("\n")[-1], "the last paragraph is carried over"


def test_a_paragraph_longer_than_a_chunk_is_cut_at_its_sentences() -> None:
    sentences = [f"Sentence {n} of a very long paragraph about parcels." for n in range(60)]
    chunks = chunk_document(" ".join(sentences).encode(), "text/plain")
    assert all(len(chunk.text) <= CHUNK_CHARS for chunk in chunks)
    assert chunks[0].text.startswith("Sentence 0 ") and chunks[-1].text.endswith(
        "Sentence 59 of a very long paragraph about parcels."
    )


def test_a_pdf_is_read_page_by_page() -> None:
    chunks = chunk_document(warranty_pdf(), "application/pdf")
    assert [chunk.section for chunk in chunks] == ["page 1", "page 2"]
    assert "accidental damage" in chunks[1].text


def test_nul_characters_are_dropped_since_postgres_stores_none() -> None:
    [chunk] = chunk_document(b"Refunds take\x00 5 days.", "text/plain")
    assert chunk.text == "Refunds take 5 days."


@pytest.mark.parametrize(
    ("data", "media_type", "problem"),
    [
        (b"%PDF-1.4 this is not really a pdf", "application/pdf", "the PDF could not be read"),
        (b"\xff\xfe\x00\x00binary", "text/plain", "not UTF-8 text"),
        (b"\n\n   \n", "text/markdown", "holds no text"),
    ],
)
def test_an_unreadable_document_is_refused_with_a_sentence(data: bytes, media_type: str, problem: str) -> None:
    with pytest.raises(UnreadableDocumentError, match=problem):
        chunk_document(data, media_type)


# ---- search --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "source", "words"),
    [
        ("How many days do I have to return an item?", "returns_policy.md, Returning an item", "within 30 days"),
        ("When will I get my refund?", "returns_policy.md, Refunds", "within 5 business"),
        ("How long does express delivery take?", "shipping.txt", "next working day"),
        ("Does the warranty cover accidental damage?", "warranty.pdf, page 2", "does not cover accidental damage"),
    ],
)
async def test_a_question_answered_in_one_document_finds_that_passage_first_and_names_its_source(
    session_factory, question: str, source: str, words: str
) -> None:
    await _agent_with_documents(session_factory)
    async with session_factory() as session:
        answer = await knowledge_service.search(session, org_id=DEFAULT_ORG_ID, agent=KNOWING.name, query=question)
    best = answer.passages[0]
    assert best.source.startswith(source) and words in best.text
    assert answer.reply().startswith(f"[{best.source}] ")


async def test_the_index_is_built_once_per_set_of_documents_not_per_search(
    session_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _agent_with_documents(session_factory)
    built: list[int] = []

    class CountedIndex(infra_knowledge.KnowledgeIndex):
        def __init__(self, chunks) -> None:
            built.append(len(chunks))
            super().__init__(chunks)

    monkeypatch.setattr(infra_knowledge, "KnowledgeIndex", CountedIndex)
    monkeypatch.setattr(infra_knowledge, "_indexes", OrderedDict())
    async with session_factory() as session:
        for question in ("When will I get my refund?", "Can I exchange a size?"):
            await knowledge_service.search(session, org_id=DEFAULT_ORG_ID, agent=KNOWING.name, query=question)
        assert len(built) == 1
        await knowledge_service.add_document(
            session,
            org_id=DEFAULT_ORG_ID,
            agent=KNOWING.name,
            name="faq.md",
            data=b"# Gift cards\n\nGift cards never expire.",
            actor="tests",
        )
        answer = await knowledge_service.search(
            session, org_id=DEFAULT_ORG_ID, agent=KNOWING.name, query="Do gift cards expire?"
        )
    assert len(built) == 2 and answer.passages[0].source == "faq.md, Gift cards"


async def test_a_question_sharing_no_word_with_the_documents_finds_nothing(session_factory) -> None:
    await _agent_with_documents(session_factory)
    async with session_factory() as session:
        answer = await knowledge_service.search(
            session, org_id=DEFAULT_ORG_ID, agent=KNOWING.name, query="zebra xylophone"
        )
    assert answer.passages == []
    assert answer.reply().startswith("Nothing in the knowledge base answers that.")


async def test_a_removed_document_is_no_longer_found_and_deleting_the_agent_deletes_its_documents(
    session_factory,
) -> None:
    await _agent_with_documents(session_factory)
    question = "Does the warranty cover accidental damage?"
    async with session_factory() as session:
        documents = await knowledge_service.list_documents(session, org_id=DEFAULT_ORG_ID, agent=KNOWING.name)
        warranty = next(document for document in documents if document.name == "warranty.pdf")
        await knowledge_service.remove_document(
            session, org_id=DEFAULT_ORG_ID, agent=KNOWING.name, document_id=warranty.id, actor="tests"
        )
        answer = await knowledge_service.search(session, org_id=DEFAULT_ORG_ID, agent=KNOWING.name, query=question)
        assert all(passage.document != "warranty.pdf" for passage in answer.passages)

        assert await queries.delete_agent(session, KNOWING.name)
        await queries.save_agent(session, KNOWING)
        await session.commit()
        assert await knowledge_service.list_documents(session, org_id=DEFAULT_ORG_ID, agent=KNOWING.name) == []


# ---- the API and the CLI -------------------------------------------------------------------------


async def test_the_api_adds_lists_searches_and_removes_an_agents_documents(api_stack) -> None:
    http = api_stack.org_a.http
    name = f"kb-{uuid.uuid4().hex[:6]}"
    created = await http.post(
        "/v1/agents", json={"name": name, "instructions": "Answer customers.", "tools": {"search_knowledge": True}}
    )
    assert created.status_code == 201, created.text
    assert "search_knowledge" in created.json()["enabled_tools"]
    for filename, data in DOCUMENTS.items():
        added = await http.post(f"/v1/agents/{name}/documents", files={"file": (filename, data)})
        assert added.status_code == 201, added.text
        assert added.json()["name"] == filename and added.json()["chunks"] >= 1

    listed = (await http.get(f"/v1/agents/{name}/documents")).json()["items"]
    assert [document["name"] for document in listed] == sorted(DOCUMENTS)

    found = await http.post(
        f"/v1/agents/{name}/knowledge/search", json={"query": "How long does express delivery take?"}
    )
    assert found.status_code == 200
    assert found.json()["passages"][0]["document"] == "shipping.txt"

    again = await http.post(f"/v1/agents/{name}/documents", files={"file": ("shipping.txt", SHIPPING_TIMES)})
    assert again.status_code == 409
    unsupported = await http.post(f"/v1/agents/{name}/documents", files={"file": ("prices.xlsx", b"PK\x03\x04")})
    assert unsupported.status_code == 415
    assert ".pdf" in unsupported.json()["detail"]
    broken = await http.post(f"/v1/agents/{name}/documents", files={"file": ("broken.pdf", b"%PDF-1.4 nothing")})
    assert broken.status_code == 422 and "broken.pdf: the PDF could not be read" in broken.json()["detail"]

    assert (await api_stack.org_b.http.get(f"/v1/agents/{name}/documents")).status_code == 404
    shipping = next(document for document in listed if document["name"] == "shipping.txt")
    assert (await api_stack.org_b.http.delete(f"/v1/agents/{name}/documents/{shipping['id']}")).status_code == 404
    assert (await http.delete(f"/v1/agents/{name}/documents/{shipping['id']}")).status_code == 204
    assert (await http.delete(f"/v1/agents/{name}/documents/{shipping['id']}")).status_code == 404
    after = await http.post(
        f"/v1/agents/{name}/knowledge/search", json={"query": "How long does express delivery take?"}
    )
    assert all(passage["document"] != "shipping.txt" for passage in after.json()["passages"])


def test_the_cli_adds_lists_searches_and_removes_documents(cli_store_url, tmp_path) -> None:
    runner = CliRunner()
    assert (
        runner.invoke(
            app, ["agent", "create", "kb", "--instructions", "Hi.", "--enable-tool", "search_knowledge"]
        ).exit_code
        == 0
    )
    for filename, data in DOCUMENTS.items():
        (tmp_path / filename).write_bytes(data)
        added = runner.invoke(app, ["agent", "docs", "add", "kb", str(tmp_path / filename)])
        assert added.exit_code == 0, added.stderr
        assert f"{filename} added" in added.stdout

    listed = runner.invoke(app, ["agent", "docs", "list", "kb"]).stdout
    assert [line.split()[1] for line in listed.splitlines()] == sorted(DOCUMENTS)

    found = runner.invoke(app, ["agent", "docs", "search", "kb", "Does the warranty cover accidental damage?"])
    assert found.stdout.startswith("warranty.pdf, page 2")

    (tmp_path / "notes.docx").write_bytes(b"PK")
    refused = runner.invoke(app, ["agent", "docs", "add", "kb", str(tmp_path / "notes.docx")])
    assert refused.exit_code != 0 and "an agent can learn from" in refused.stderr

    warranty_id = next(line.split()[0] for line in listed.splitlines() if "warranty.pdf" in line)
    assert runner.invoke(app, ["agent", "docs", "remove", "kb", warranty_id]).exit_code == 0
    assert "warranty.pdf" not in runner.invoke(app, ["agent", "docs", "list", "kb"]).stdout


# ---- on a call, through its workflow -------------------------------------------------------------


@pytest.fixture
async def call_with_knowledge(time_env, session_factory, db_url):
    """A contact between calls whose agent has the three documents and search_knowledge switched on."""
    await _agent_with_documents(session_factory)
    campaign_id = new_campaign_id()
    person = contact(41, "never_answers")
    campaign = settings(max_attempts=3, initial_backoff=timedelta(hours=6))
    await seed(session_factory, campaign_id, [person], campaign)
    async with contact_between_calls(
        time_env.client,
        session_factory,
        db_url,
        campaign_id=campaign_id,
        person=person,
        campaign=campaign,
        agent=KNOWING,
        clock=server_clock,
        org_id=DEFAULT_ORG_ID,
    ) as handle:
        yield TemporalCallBridge(time_env.client, handle.id, attempt=1), campaign_id, person


async def test_the_tool_searches_through_the_calls_workflow_and_the_agent_answers_naming_the_source(
    call_with_knowledge,
) -> None:
    bridge, campaign_id, person = call_with_knowledge
    answer = await bridge.search_knowledge("When will I get my refund?")
    assert answer.passages[0].source == "returns_policy.md, Refunds"

    job = CallJob(workflow_id="w", campaign_id=campaign_id, attempt=1, contact=person, agent=KNOWING)
    speaker = RingflowAgent(job, bridge)
    async with AgentSession(llm=ScriptedLLM()) as session:
        await session.start(speaker)
        await speaker.wait_greeted(10)
        assert "search_knowledge" in speaker.tool_names
        answered = await session.run(user_input="How long does express delivery take?")
        await speaker.stop_polling()
    [said] = spoken(answered)
    assert said.startswith("According to shipping.txt: ")
    assert "Express delivery arrives the next working day when the order is placed before 2pm" in said


async def test_a_search_by_an_agent_with_the_tool_switched_off_is_refused_by_the_workflow(
    time_env, session_factory, db_url
) -> None:
    campaign_id = new_campaign_id()
    person = contact(42, "never_answers")
    campaign = settings(max_attempts=3, initial_backoff=timedelta(hours=6))
    await seed(session_factory, campaign_id, [person], campaign)
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    deployment = Settings(_env_file=None, database_url=db_url, task_queue=task_queue)  # type: ignore[call-arg]
    async with build_worker(
        time_env.client, deployment, sessions=session_factory, carrier=SimCarrier(time_scale=0.0, clock=server_clock)
    ):
        handle = await time_env.client.start_workflow(
            ContactWorkflow.run,
            ContactWorkflowInput(
                campaign_id=campaign_id,
                contact=person,
                settings=campaign,
                agent=AGENT,
                policy=ANY_HOUR,
                org_id=DEFAULT_ORG_ID,
            ),
            id=contact_workflow_id(campaign_id, person.external_id),
            task_queue=task_queue,
        )
        with pytest.raises(BridgeError, match="no knowledge base switched on"):
            await TemporalCallBridge(time_env.client, handle.id, attempt=1).search_knowledge("Any refunds?")
        await handle.terminate("test over")


# ---- embeddings, when the deployment has an OpenAI key ----------------------------------------------------

EMBEDDING_MODEL = "text-embedding-3-small"


def standin_embedder(standin: EmbeddingsStandin) -> Embedder:
    settings = Settings(_env_file=None, openai_api_key="sk-test", openai_base_url=standin.base_url)  # type: ignore[call-arg]
    embedder = embedder_for(settings)
    assert embedder is not None and embedder.model == EMBEDDING_MODEL
    return embedder


async def _search(session_factory, query: str, embedder: Embedder | None = None):
    async with session_factory() as session:
        return await knowledge_service.search(
            session, org_id=DEFAULT_ORG_ID, agent=KNOWING.name, query=query, embedder=embedder
        )


async def test_with_an_openai_key_passages_are_embedded_and_a_question_in_other_words_finds_its_answer(
    session_factory,
) -> None:
    async with EmbeddingsStandin() as standin:
        embedder = standin_embedder(standin)
        await _agent_with_documents(session_factory, embedder=embedder)
        uploads = len(standin.requests)
        assert uploads == len(DOCUMENTS), "one request per document: its passages in one batch"
        assert {sent["model"] for sent in standin.requests} == {EMBEDDING_MODEL}
        assert standin.requests[0]["authorization"] == "Bearer sk-test"
        assert any("returns_policy.md Refunds" in text for text in standin.requests[0]["input"])

        question = "Is a reimbursement possible?"
        assert (await _search(session_factory, question)).passages == [], "no word in common: BM25 finds nothing"
        answer = await _search(session_factory, question, embedder)
        assert answer.passages[0].source == "returns_policy.md, Refunds"
        assert standin.requests[-1]["input"] == [question] and len(standin.requests) == uploads + 1

        # A call's search_knowledge activity, as the worker builds it with the deployment's embedder, ranks alike.
        on_a_call = await KnowledgeActivities(session_factory, embedder).search_knowledge(
            SearchKnowledge(org_id=DEFAULT_ORG_ID, agent=KNOWING.name, query=question)
        )
        assert on_a_call.passages[0].source == "returns_policy.md, Refunds"

        # A question that shares the exact words still finds them first, fused with the meaning.
        express = await _search(session_factory, "How long does express delivery take?", embedder)
        assert express.passages[0].source == "shipping.txt" and "next working day" in express.passages[0].text


async def test_without_an_openai_key_nothing_is_embedded_and_search_stays_bm25() -> None:
    assert embedder_for(Settings(_env_file=None, openai_api_key=None)) is None  # type: ignore[call-arg]


async def test_the_api_embeds_uploads_and_searches_by_meaning_with_the_deployments_openai_key(api_stack) -> None:
    http = api_stack.org_a.http
    assert (await http.post("/v1/agents", json=KNOWING.model_dump(mode="json"))).status_code == 201
    async with EmbeddingsStandin() as standin:
        api_stack.settings.openai_api_key = "sk-deployment"
        api_stack.settings.openai_base_url = standin.base_url
        api_stack.settings.knowledge_embedding_model = "text-embedding-3-large"
        added = await http.post(
            f"/v1/agents/{KNOWING.name}/documents", files={"file": ("returns_policy.md", RETURNS_POLICY)}
        )
        assert added.status_code == 201, added.text
        found = await http.post(
            f"/v1/agents/{KNOWING.name}/knowledge/search", json={"query": "Is a reimbursement possible?"}
        )
    assert found.json()["passages"][0]["section"] == "Refunds"
    assert [sent["model"] for sent in standin.requests] == ["text-embedding-3-large"] * 2
    assert standin.requests[0]["authorization"] == "Bearer sk-deployment"


async def test_a_failing_embeddings_endpoint_leaves_documents_stored_and_searchable_by_their_words(
    session_factory,
) -> None:
    async with EmbeddingsStandin() as standin:
        standin.failing = True
        embedder = standin_embedder(standin)
        await _agent_with_documents(session_factory, embedder=embedder)
        async with session_factory() as session:
            chunks = await store_knowledge.chunks_of(session, DEFAULT_ORG_ID, KNOWING.name)
        assert chunks and all(model is None and vector is None for *_, model, vector in chunks)
        standin.failing = False
        answer = await _search(session_factory, "When will I get my refund?", embedder)
        assert answer.passages[0].source == "returns_policy.md, Refunds"
        assert all(sent["input"] != ["When will I get my refund?"] for sent in standin.requests), (
            "no passage has an embedding of the model: the question is not embedded"
        )


def test_reciprocal_rank_fusion_puts_first_the_passage_both_rankings_rate() -> None:
    def chunk(section: str, text: str, vector: list[float]) -> infra_knowledge.IndexedChunk:
        data = np.asarray(vector, dtype="<f4") / np.linalg.norm(vector)
        return infra_knowledge.IndexedChunk("faq.md", section, text, EMBEDDING_MODEL, data.astype("<f4").tobytes())

    index = infra_knowledge.KnowledgeIndex(
        [
            chunk("Gift cards", "Gift cards never expire and work online.", [0.0, 1.0]),
            chunk("Vouchers", "A voucher code expires after a year.", [1.0, 0.0]),
            chunk("Store credit", "Credit from a return expires after a year.", [0.9, 0.1]),
        ]
    )
    question = np.asarray([1.0, 0.0], dtype=np.float32)
    words_only = index.search("when does it expire after a year", 3)
    fused = index.search("when does it expire after a year", 3, model=EMBEDDING_MODEL, question=question)
    assert {p.section for p in words_only[:2]} == {"Vouchers", "Store credit"}
    assert fused[0].section == "Vouchers" and fused[-1].section == "Gift cards"
    other_model = index.search("expire", 3, model="another-model", question=question)
    assert [p.section for p in other_model] == [p.section for p in index.search("expire", 3)], "words alone"
