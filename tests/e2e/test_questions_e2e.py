"""Follow-up questions through the real server: grpcurl, the client and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from scout.v1 import research_pb2
from scout_client import FailedPreconditionError, InvalidArgumentError, ScoutClient
from tests.e2e.test_grpcurl import _grpcurl, call
from tests.support.server import ROOT, TOKENS, ServerProcess

pytestmark = pytest.mark.e2e

QUESTION = "What does the Commuter Flex plan cost per month?"


def test_a_question_about_the_price_streams_an_answer_citing_a_source_with_the_price(
        shared_server: ServerProcess) -> None:
    with ScoutClient(shared_server.address, token=TOKENS["alice"]) as scout:
        sid = scout.create_session().session_id
        scout.upload_file(sid, ROOT / "examples" / "urban-ebike-rental.docx")
        with pytest.raises(FailedPreconditionError) as early:
            list(scout.ask(sid, QUESTION))
        assert "no reports yet" in str(early.value)
        run = scout.start_research(sid)
        events = list(scout.stream_progress(sid, run_id=run.run_id))
        assert events[-1].type == research_pb2.PROGRESS_EVENT_TYPE_RUN_COMPLETED

        # grpcurl: the stream of one question
        messages = call(shared_server, "scout.v1.ResearchService/AskQuestion",
                        {"session_id": sid, "question": QUESTION, "request_id": "ask-1"})
        assert "progress" in messages[0] and "answer" in messages[-1]
        text = "".join(m.get("textDelta", "") for m in messages)
        answer = messages[-1]["answer"]
        assert text == answer["answer"] and answer["question"] == QUESTION
        priced = [s for s in answer["sources"] if "EUR 79" in s["excerpt"]]
        assert priced and f"[{priced[0]['sourceId']}]" in answer["answer"]
        assert {s["runId"] for s in answer["sources"]} == {answer["questionId"]}

        # the client: the same request_id streams the same stored answer
        replay = list(scout.ask(sid, QUESTION, request_id="ask-1"))
        assert replay[-1].answer.question_id == answer["questionId"]
        assert not any(m.WhichOneof("event") == "progress" for m in replay)
        listed = list(scout.iter_questions(sid))
        assert [q.question_id for q in listed] == [answer["questionId"]]
        [page] = call(shared_server, "scout.v1.ResearchService/ListQuestions",
                      {"session_id": sid})
        assert page["answers"][0]["questionId"] == answer["questionId"]

        with pytest.raises(InvalidArgumentError):
            list(scout.ask(sid, "   "))
        refused = _grpcurl(shared_server, "scout.v1.ResearchService/AskQuestion",
                           data=json.dumps({"session_id": sid, "question": "x" * 1001}))
        assert refused.returncode != 0 and "InvalidArgument" in refused.stderr

        # the CLI streams the answer's text to stdout
        env = {"SCOUT_ADDRESS": shared_server.address, "SCOUT_TOKEN": TOKENS["alice"],
               "PATH": "/usr/bin:/bin", **{k: v for k, v in os.environ.items()
                                           if k == "PYTHONPATH"}}
        done = subprocess.run(
            [sys.executable, "-m", "scout_client.cli", "ask", sid, "Who are the competitors?"],
            env=env, capture_output=True, text=True, timeout=120, check=True)
        assert "Answered offline" in done.stdout and "## Sources" in done.stdout
        assert "Searching the documents" in done.stderr

    with ScoutClient(shared_server.address, token=TOKENS["bob"]) as other:
        with pytest.raises(Exception) as foreign:
            list(other.ask(sid, QUESTION))
        assert "NOT_FOUND" in repr(foreign.value) or "not found" in str(foreign.value)
