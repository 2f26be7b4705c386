"""The AI panel of a comparison: a summary streamed from the assistant, and questions about the two
documents answered with their sources. When the assistant is unavailable the panel says so in one
notice (``Assistant.status().notice``) and nothing else changes."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ...ai import AiUnavailableError
from ..context import Ctx
from ..reports import ReportView
from ..text import clip, md

__all__ = ["show"]


def show(ctx: Ctx, record: Any, view: ReportView) -> None:
    st.subheader("AI assistant", anchor=False)
    assistant = ctx.services.assistant
    status = assistant.status()
    if not status.available:
        st.info(status.notice or "The AI assistant is unavailable.", icon=":material/smart_toy:")
        return
    if status.notice:
        st.caption(status.notice)
    summary_col, qa_col = st.columns(2, gap="large")
    with summary_col:
        _summary(assistant, record, view)
    with qa_col:
        _questions(ctx, assistant, record)


def _summary(assistant: Any, record: Any, view: ReportView) -> None:
    st.markdown("**Summary of the changes**")
    key = f"ai_summary_{record.id}"
    text = st.session_state.get(key)
    if text:
        with st.container(border=True):
            st.markdown(text)
        return
    if not st.button("Summarize the changes", key="ai_summarize", icon=":material/summarize:"):
        st.caption("A few sentences about what changed, most important first, with page numbers.")
        return
    try:
        with st.container(border=True):
            stream = assistant.summarize(view.json_text, old_name=record.old_filename,
                                         new_name=record.new_filename)
            written = st.write_stream(stream)
    except AiUnavailableError as exc:
        st.info(str(exc), icon=":material/smart_toy:")
        return
    st.session_state[key] = written if isinstance(written, str) else "".join(map(str, written))


def _questions(ctx: Ctx, assistant: Any, record: Any) -> None:
    st.markdown("**Ask about the two documents**")
    key = f"ai_answers_{record.id}"
    answers: list[dict[str, Any]] = st.session_state.setdefault(key, [])
    with st.form("ai_question_form", clear_on_submit=True, border=False):
        question = st.text_input("Question", key="ai_question",
                                 placeholder="e.g. What changed in the payment terms?")
        asked = st.form_submit_button("Ask", icon=":material/send:")
    if asked and question.strip():
        _ask(assistant, record, question.strip(), answers)
    for item in reversed(answers):
        _answer_box(item)


def _ask(assistant: Any, record: Any, question: str, answers: list[dict[str, Any]]) -> None:
    """Stream the answer to ``question`` (shown above the earlier ones) and keep it."""
    try:
        answer = assistant.answer(record.owner, [record.old_document_id, record.new_document_id], question)
        with st.container(border=True):
            st.markdown(f"**Q:** {md(question)}")
            text = st.write_stream(answer.stream)
            sources = [{"label": s.label, "text": clip(s.text, 300)} for s in answer.sources]
            _sources(sources)
    except AiUnavailableError as exc:
        st.info(str(exc), icon=":material/smart_toy:")
        return
    answers.append({"question": question, "answer": text if isinstance(text, str) else
                    "".join(map(str, text)), "sources": sources, "shown": True})


def _answer_box(item: dict[str, Any]) -> None:
    if item.pop("shown", False):  # streamed in this run already
        return
    with st.container(border=True):
        st.markdown(f"**Q:** {md(item['question'])}")
        st.markdown(item["answer"])
        _sources(item["sources"])


def _sources(sources: list[dict[str, str]]) -> None:
    if not sources:
        st.caption("No passage of the documents matched the question (are they still being read?).")
        return
    with st.expander(f"Sources ({len(sources)})"):
        for source in sources:
            st.markdown(f"**{md(source['label'])}**")
            st.caption(md(source["text"]))
