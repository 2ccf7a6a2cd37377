"""OpenAI-compatible chat completions on the textrobust server (``textrobust serve --openai MODEL``).

Two engines answer ``POST /v1/chat/completions`` (and list themselves at ``GET /v1/models``):

* :class:`CausalLMEngine` — a local causal LM: the messages go through its chat template, and the reply is greedy
  (``temperature`` is ignored: the answers are deterministic), with ``logprobs`` / ``top_logprobs`` (up to 20) of
  every generated token. One reply token costs one forward pass; longer replies use ``generate``.
* :class:`ClassifierEngine` — a textrobust classifier as a "model" that answers a label: the last user message is
  the text, the reply is the most likely label's name, and ``top_logprobs`` are the labels' log-probabilities.

Requests are scored through the server's dynamic batcher like the textrobust protocol: concurrent chat requests share
forward passes, and the queue, timeout and body limits apply with the same JSON errors. ``logprobs=False`` on the
routes makes a label-only API (the reply's text only), for testing label-only attacks end to end.

Example:
    >>> engine = CausalLMEngine.load("smollm2", Runtime(device="cpu"))  # doctest: +SKIP
    >>> server = ModelServer(engine, ServeConfig(port=0), extra_routes=openai_routes(engine, "smollm2"),
    ...                      predict_routes=False).start()  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..models.runtime import Runtime
from .app import ServingState, refuse, score
from .protocol import ClientGone, RequestError, parse_json, read_body

#: The most reply tokens one request may ask for (``max_tokens`` beyond it is capped).
MAX_REPLY_TOKENS = 16
#: ``top_logprobs`` allowed by default (OpenAI's limit); ``--max-top-logprobs`` raises it (vLLM: ``--max-logprobs``).
TOP_LOGPROBS = 20
CHAT_EXAMPLE = '{"model": "NAME", "messages": [{"role": "user", "content": "..."}]}'
_SEP = "\x1f"  # between a job's reply length and its prompt (the batcher carries strings)
_ROLES = ("system", "user", "assistant", "developer")


class CausalLMEngine:
    """A causal LM answering chat messages greedily, with the log-probabilities of its reply tokens.

    Its ``predict_proba`` takes *jobs* (``"{max_tokens}\\x1f{prompt}"``, or a bare prompt for one token) and returns
    one packed row per job — ``[reply length, prompt tokens, top ids, top log-probs, reply ids, reply log-probs]`` —
    so the server's batcher can carry it like a classifier's probabilities.
    """

    labels: list[str] = []

    def __init__(
        self,
        lm: Any,
        tok: Any,
        runtime: Runtime | None = None,
        token_budget: int | None = None,
        top_k: int = TOP_LOGPROBS,
    ) -> None:
        from ..models.prompted import CPU_LLM_TOKEN_BUDGET

        vocab = getattr(getattr(lm, "config", None), "vocab_size", None)
        # the most alternatives a step has: a --max-top-logprobs beyond the vocabulary lists the whole vocabulary
        top_k = min(top_k, vocab) if vocab else top_k
        self.lm, self.tok, self.runtime, self.top_k = lm, tok, runtime or Runtime(), top_k
        self.budget = (
            token_budget
            or self.runtime.max_tokens
            or (CPU_LLM_TOKEN_BUDGET if not self.runtime.on_cuda else self.runtime.token_budget)
        )
        self.module = self.runtime.inference_module(lm)
        self.chat = bool(getattr(tok, "chat_template", None))

    @classmethod
    def load(cls, name: str, runtime: Runtime | None = None, top_k: int = TOP_LOGPROBS) -> CausalLMEngine:
        """Load ``name`` (``smollm2``, a directory, a ``.gguf`` file) with ``runtime``."""
        from ..models.causal_lm import load_causal_lm

        lm, tok = load_causal_lm(name, runtime, who=f"serve --openai {name}")
        return cls(lm, tok, runtime, top_k=top_k)

    def job(self, messages: list[dict[str, str]], max_tokens: int) -> str:
        """The batcher's text for one request: the reply length and the prompt the messages make."""
        if self.chat:
            prompt = self.tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:  # a base model: the contents one after another, the reply continuing the last
            prompt = "\n\n".join(m["content"] for m in messages)
        return f"{max_tokens}{_SEP}{prompt}"

    def predict_proba(self, jobs: Sequence[str]) -> np.ndarray:
        """Packed rows for ``jobs`` (see the class docstring)."""
        parsed = [(int(j.split(_SEP, 1)[0]), j.split(_SEP, 1)[1]) if _SEP in j else (1, j) for j in jobs]
        ids = [list(self.tok(p, add_special_tokens=not self.chat)["input_ids"]) for _, p in parsed]
        width = 2 + 2 * self.top_k + 2 * MAX_REPLY_TOKENS
        out = np.full((len(jobs), width), np.nan)
        one = [i for i, (n, _) in enumerate(parsed) if n == 1]
        more = [i for i, (n, _) in enumerate(parsed) if n > 1]
        if one:
            self._next_token([ids[i] for i in one], out, one)
        if more:
            self._generate([ids[i] for i in more], [parsed[i][0] for i in more], out, more)
        out[:, 1] = [len(x) for x in ids]
        return out

    def _next_token(self, rows: list[list[int]], out: np.ndarray, where: list[int]) -> None:
        from ..models.prompted import forward_rows

        def read(logp: Any, batch: list[int], keep: int) -> None:
            top = logp[:, -1].topk(self.top_k, dim=-1)
            for b, r in enumerate(batch):
                self._pack(out[where[r]], top.indices[b].tolist(), top.values[b].tolist(), [top.indices[b, 0].item()])

        forward_rows(self.module, self.tok, rows, [1] * len(rows), read, self.runtime, self.budget, None, _lcp(rows))

    def _generate(self, rows: list[list[int]], lengths: list[int], out: np.ndarray, where: list[int]) -> None:
        import torch

        from ..models.batching import plan_batches
        from ..models.causal_lm import eos_id

        eos = eos_id(self.tok)
        device = next(self.lm.parameters()).device
        for plan in plan_batches([len(r) for r in rows], max_tokens=self.budget, multiple=1):
            width = max(len(rows[i]) for i in plan)
            ids = torch.full((len(plan), width), self.tok.pad_token_id, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for b, i in enumerate(plan):
                ids[b, width - len(rows[i]) :] = torch.tensor(rows[i])
                mask[b, width - len(rows[i]) :] = 1
            n = max(lengths[i] for i in plan)
            with torch.inference_mode(), self.runtime.autocast():
                gen = self.lm.generate(
                    input_ids=ids.to(device),
                    attention_mask=mask.to(device),
                    max_new_tokens=n,
                    do_sample=False,
                    num_beams=1,
                    output_logits=True,
                    return_dict_in_generate=True,
                    pad_token_id=self.tok.pad_token_id,
                    eos_token_id=eos,
                )
            steps = [s.float().log_softmax(-1).cpu() for s in gen.logits]
            for b, i in enumerate(plan):
                top = steps[0][b].topk(self.top_k)
                reply: list[int] = []
                for t in range(min(lengths[i], len(steps))):
                    tok_id = int(gen.sequences[b, width + t])
                    reply.append(tok_id)
                    if tok_id == eos:
                        break
                self._pack(
                    out[where[i]],
                    top.indices.tolist(),
                    top.values.tolist(),
                    reply,
                    [float(steps[t][b, tid]) for t, tid in enumerate(reply)],
                )

    def _pack(
        self, row: np.ndarray, top_ids: list[int], top_lps: list[float], reply: list[int], lps: Any = None
    ) -> None:
        k, t = self.top_k, MAX_REPLY_TOKENS
        row[0] = len(reply)
        row[2 : 2 + k] = top_ids
        row[2 + k : 2 + 2 * k] = top_lps
        row[2 + 2 * k : 2 + 2 * k + len(reply)] = reply
        row[2 + 2 * k + t : 2 + 2 * k + t + len(reply)] = top_lps[:1] if lps is None else lps

    def answer(self, row: np.ndarray, top_n: int) -> tuple[str, list[dict[str, Any]], str, int, int]:
        """``(content, logprobs entries, finish reason, prompt tokens, reply tokens)`` of one packed row."""
        from ..models.causal_lm import eos_id

        k, t = self.top_k, MAX_REPLY_TOKENS
        n = int(row[0])
        reply = [int(x) for x in row[2 + 2 * k : 2 + 2 * k + n]]
        lps = row[2 + 2 * k + t : 2 + 2 * k + t + n].tolist()
        eos = eos_id(self.tok)
        stopped = bool(reply) and reply[-1] == eos
        text_ids = reply[:-1] if stopped else reply
        entries = []
        for j, (tid, lp) in enumerate(zip(text_ids, lps, strict=False)):
            entry = _entry(self.tok.decode([tid]), lp)
            if j == 0:  # the first token's alternatives (what a classifier reads)
                ids, vals = row[2 : 2 + k].astype(int).tolist(), row[2 + k : 2 + 2 * k].tolist()
                entry["top_logprobs"] = [_entry(self.tok.decode([i]), v) for i, v in zip(ids, vals, strict=True)][
                    :top_n
                ]
            else:
                entry["top_logprobs"] = []
            entries.append(entry)
        content = self.tok.decode(text_ids, skip_special_tokens=True)
        return content, entries, "stop" if stopped else "length", int(row[1]), n


class ClassifierEngine:
    """A textrobust classifier behind the chat API: the last user message is the text; the reply is a label."""

    def __init__(self, model: Any) -> None:
        self.model, self.labels = model, [str(x) for x in model.labels]
        self.top_k = len(self.labels)

    def predict_proba(self, texts: Sequence[str]) -> Any:
        return self.model.predict_proba(list(texts))

    def job(self, messages: list[dict[str, str]], max_tokens: int) -> str:
        users = [m["content"] for m in messages if m["role"] == "user"]
        if not users:
            raise RequestError(422, "invalid_request", "no user message: the last user message is the text to classify")
        return users[-1]

    def answer(self, row: np.ndarray, top_n: int) -> tuple[str, list[dict[str, Any]], str, int, int]:
        order = np.argsort(-np.asarray(row), kind="stable")
        logp = np.log(np.clip(np.asarray(row, dtype=float), 1e-300, None))
        best = self.labels[int(order[0])]
        entry = _entry(best, float(logp[order[0]]))
        entry["top_logprobs"] = [_entry(self.labels[int(i)], float(logp[i])) for i in order[:top_n]]
        return best, [entry], "stop", 0, 1


def _entry(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "logprob": float(logprob), "bytes": list(token.encode("utf-8", "replace"))}


def _lcp(rows: list[list[int]]) -> list[int] | None:
    """The tokens every row starts with, less one (a batch of chat prompts shares its system message and
    instruction); None when too short to be worth a cache."""
    if len(rows) < 2:
        return None
    first, n = rows[0], min(len(r) for r in rows)
    k = 0
    while k < n and all(r[k] == first[k] for r in rows):
        k += 1
    return first[: k - 1] if k > 8 else None


def openai_routes(engine: Any, name: str, *, logprobs: bool = True) -> list[Any]:
    """The Starlette routes of the chat API for ``engine`` served as model ``name``: ``POST /v1/chat/completions``
    and ``GET /v1/models``. ``logprobs=False``: the answers never carry logprobs (a label-only API);
    ``top_logprobs`` may be up to ``max(20, engine.top_k)``."""
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    created = int(time.time())

    async def models(request: Any) -> Any:
        return JSONResponse(
            {"object": "list", "data": [{"id": name, "object": "model", "created": created, "owned_by": "textrobust"}]}
        )

    async def chat(request: Any) -> Any:
        st: ServingState = request.app.state.serving
        cfg, ctx = st.config, request.scope["state"]
        began = time.monotonic()
        try:
            if st.batcher.failure is not None:
                raise RequestError(503, "not_ready", f"the model failed to load ({st.batcher.failure})")
            body = await read_body(request, max_bytes=cfg.max_body_bytes, timeout=cfg.read_timeout)
            req = _parse_chat(parse_json(body, CHAT_EXAMPLE), name, cfg.max_chars, max(TOP_LOGPROBS, engine.top_k))
            ctx["texts"] = 1
            job = engine.job(req["messages"], req["max_tokens"])
            (row,) = await score(st, [job], ctx["request_id"], began)
        except RequestError as e:
            return refuse(request, e)
        except ClientGone:
            ctx["error"], ctx["message"] = "client_gone", "the client closed the connection while sending"
            return Response(status_code=400)
        content, entries, finish, n_prompt, n_reply = engine.answer(np.asarray(row), req["top_logprobs"])
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": finish,
            "logprobs": {"content": entries} if (logprobs and req["logprobs"]) else None,
        }
        payload = {
            "id": f"chatcmpl-{ctx['request_id']}{os.urandom(3).hex()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": name,
            "choices": [choice],
            "usage": {"prompt_tokens": n_prompt, "completion_tokens": n_reply, "total_tokens": n_prompt + n_reply},
        }
        return Response(json.dumps(payload).encode(), media_type="application/json")

    return [Route("/v1/chat/completions", chat, methods=["POST"]), Route("/v1/models", models, methods=["GET"])]


def _parse_chat(data: Any, name: str, max_chars: int, max_top: int) -> dict[str, Any]:
    """The fields of a chat request this server reads, checked (422 for a bad field, 404 for another model)."""

    def bad(message: str) -> RequestError:
        return RequestError(422, "invalid_request", message)

    if not isinstance(data, dict):
        raise bad(f"expected a JSON object: {CHAT_EXAMPLE}")
    if data.get("model") != name:
        raise RequestError(404, "model_not_found", f"no model {data.get('model')!r} here; this server serves {name!r}")
    if data.get("stream"):
        raise bad("stream=true is not supported; ask without streaming")
    if data.get("n", 1) != 1:
        raise bad("n must be 1 (one greedy reply)")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad("'messages' must be a non-empty list of {role, content}")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in _ROLES or not isinstance(m.get("content"), str):
            raise bad(f"messages[{i}] must be {{role: {'|'.join(_ROLES)}, content: a string}}")
    if sum(len(m["content"]) for m in messages) > max_chars:
        raise RequestError(422, "text_too_long", f"the messages hold more than {max_chars:,} characters (--max-chars)")
    max_tokens = data.get("max_completion_tokens", data.get("max_tokens", MAX_REPLY_TOKENS))
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise bad(f"max_tokens must be an integer >= 1, got {max_tokens!r}")
    top = data.get("top_logprobs", 0) or 0
    if not isinstance(top, int) or not 0 <= top <= max_top:
        raise bad(f"top_logprobs must be an integer in 0..{max_top}, got {top!r}")
    return {
        "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
        "max_tokens": min(max_tokens, MAX_REPLY_TOKENS),
        "logprobs": bool(data.get("logprobs")),
        "top_logprobs": top,
    }


__all__ = ["MAX_REPLY_TOKENS", "CausalLMEngine", "ClassifierEngine", "openai_routes"]
