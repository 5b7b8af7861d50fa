"""An offline LLM provider speaking OpenAI's protocol, for `make run`, the tests and the benchmarks.

    python -m web.fake_provider --port 8100 [--latency-ms 0]

Serves `/v1/chat/completions` (`stream: true` included: `data:` chunks, a usage chunk when asked, then
`[DONE]`), `/v1/models` and `/v1/moderations` (which flags any input containing "fake-flagged"). Many
providers share the one server: `/p/<name>/v1/...` is the provider `<name>`, `/v1/...` the provider
`default`. Each provider's behaviour is set at run time with `POST /_admin/providers/<name>` and a JSON
body of: latency_ms (before the answer), token_delay_ms (between chunks), reply_tokens, fail_rate and
fail_status (random failures), and `script`, a list of answers given in turn before the normal one:
{"status": 429, "retry_after": 1} or {"hang_s": 5}. `GET /_admin/stats` counts requests per provider
(with their times); `POST /_admin/reset` forgets behaviours and counts.

Prompt tokens are counted at 4 characters a token plus 3 a message; the reply is `reply_tokens` words,
at most `max_tokens`, one word a chunk and a token each.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
import uuid

import gevent
from gevent.pywsgi import WSGIServer

WORDS = ("the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "credits", "flow")
DEFAULTS = {"latency_ms": 0, "token_delay_ms": 0, "reply_tokens": 12, "fail_rate": 0.0, "fail_status": 500}


class FakeProvider:
    def __init__(self, **defaults):
        self.defaults = {**DEFAULTS, **defaults}
        self.reset()

    def reset(self) -> None:
        self.behaviours: dict[str, dict] = {}
        self.scripts: dict[str, list] = {}
        self.requests: dict[str, list[float]] = {}

    def __call__(self, environ, start_response):
        path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
        body = environ["wsgi.input"].read() if method == "POST" else b""
        if path.startswith("/_admin/"):
            return self._admin(path[len("/_admin/"):], json.loads(body or b"{}"), start_response)
        name, route = "default", path
        if path.startswith("/p/"):
            name, _, route = path[3:].partition("/")
            route = "/" + route
        if route == "/v1/models":
            return _json(start_response, 200, {"object": "list", "data": [
                {"id": "fake-chat", "object": "model", "created": 0, "owned_by": "conveyor-fake"}]})
        if route == "/v1/moderations" and method == "POST":
            return self._moderate(json.loads(body), start_response)
        if route == "/v1/chat/completions" and method == "POST":
            return self._complete(name, json.loads(body), start_response)
        return _json(start_response, 404, {"error": {"message": "no such route", "type": "invalid_request_error",
                                                     "code": "not_found"}})

    def _admin(self, action: str, body: dict, start_response):
        if action == "reset":
            self.reset()
        elif action.startswith("providers/"):
            name = action[len("providers/"):]
            self.behaviours[name] = {**self.defaults, **{k: v for k, v in body.items() if k != "script"}}
            self.scripts[name] = list(body.get("script", []))
        elif action == "stats":
            return _json(start_response, 200, {"requests": self.requests})
        return _json(start_response, 200, {"ok": True})

    def _moderate(self, body: dict, start_response):
        inputs = body.get("input")
        inputs = inputs if isinstance(inputs, list) else [inputs]
        results = [{"flagged": "fake-flagged" in str(text), "categories": {"harassment": "fake-flagged" in str(text)},
                    "category_scores": {"harassment": 0.99 if "fake-flagged" in str(text) else 0.0}}
                   for text in inputs]
        return _json(start_response, 200, {"id": f"modr-{uuid.uuid4().hex}", "model": "fake-moderation",
                                           "results": results})

    def _complete(self, name: str, body: dict, start_response):
        self.requests.setdefault(name, []).append(time.time())
        behaviour = self.behaviours.get(name, self.defaults)
        scripted = self.scripts.get(name) and self.scripts[name].pop(0)
        if scripted and scripted.get("hang_s"):
            gevent.sleep(scripted["hang_s"])
        gevent.sleep(behaviour["latency_ms"] / 1000)
        status = (scripted or {}).get("status") or (
            behaviour["fail_status"] if random.random() < behaviour["fail_rate"] else 200)
        if status != 200:
            retry_after = (scripted or {}).get("retry_after")
            headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
            return _json(start_response, status, {"error": {"message": f"fake failure {status}", "type": "api_error",
                                                            "code": str(status)}}, headers)
        messages = body.get("messages") or []
        prompt = sum(3 + math.ceil(len(str(m.get("content") or "")) / 4) for m in messages)
        count = min(behaviour["reply_tokens"], body.get("max_tokens") or body.get("max_completion_tokens") or 10**6)
        words = [WORDS[i % len(WORDS)] + " " for i in range(count)]
        usage = {"prompt_tokens": prompt, "completion_tokens": count, "total_tokens": prompt + count}
        base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": body.get("model")}
        if not body.get("stream"):
            return _json(start_response, 200, {**base, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "".join(words)}, "finish_reason": "stop"}]})
        start_response("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")])
        with_usage = (body.get("stream_options") or {}).get("include_usage")
        return self._chunks(base, words, usage if with_usage else None, behaviour["token_delay_ms"] / 1000)

    @staticmethod
    def _chunks(base: dict, words: list[str], usage: dict | None, delay: float):
        def chunk(delta: dict, finish: str | None = None, **extra) -> bytes:
            data = {**base, "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
            return f"data: {json.dumps(data)}\n\n".encode()

        yield chunk({"role": "assistant", "content": ""})
        for word in words:
            if delay:
                gevent.sleep(delay)
            yield chunk({"content": word})
        yield chunk({}, "stop" if words else "length")
        if usage is not None:
            yield f"data: {json.dumps({**base, 'object': 'chat.completion.chunk', 'choices': [], 'usage': usage})}\n\n".encode()
        yield b"data: [DONE]\n\n"


def _json(start_response, status: int, body: dict, headers: list | None = None):
    data = json.dumps(body).encode()
    start_response(f"{status} {'OK' if status == 200 else 'Error'}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *(headers or [])])
    return [data]


def main() -> None:
    parser = argparse.ArgumentParser(description="An offline OpenAI-compatible LLM provider")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args()
    server = WSGIServer((args.host, args.port), FakeProvider(latency_ms=args.latency_ms), log=None)
    print(f"fake LLM provider on http://{args.host}:{args.port}/v1", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
