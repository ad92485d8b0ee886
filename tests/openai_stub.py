"""A loopback OpenAI-compatible server for tests: serves queued chat-completion responses."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def completion(content: str | None = None, tool_calls: list[tuple[str, str, dict | str]] | None = None) -> dict:
    """A recorded chat-completion body; tool call arguments may be a dict or raw (even broken) text."""
    message: dict = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [
            {"id": call_id, "type": "function",
             "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
            for call_id, name, args in tool_calls
        ]
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": "stub-model",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}}


class OpenAIStub:
    """Serves queued responses in order: a dict body (200) or an int status code (an error)."""

    def __init__(self, responses: list[dict | int]):
        self.responses = list(responses)
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                stub.headers.append(dict(self.headers))
                response = stub.responses.pop(0) if stub.responses else 500
                if isinstance(response, int):
                    self.send_response(response)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(json.dumps({"error": {"message": f"stub status {response}"}}).encode())
                    return
                if body.get("stream"):
                    self._stream(response, body)
                    return
                data = json.dumps(response).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, response: dict, body: dict) -> None:
                """The response as chunks the way servers stream it: the content word by word, then each tool
                call (its id and name, then its arguments), then the finish reason and, when asked, the usage; a
                reader may hang up early."""
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                message = response["choices"][0]["message"]
                deltas = [{"content": word + " "} for word in (message.get("content") or "").split(" ") if word]
                for index, call in enumerate(message.get("tool_calls") or []):
                    deltas.append({"tool_calls": [{"index": index, "id": call["id"], "type": "function", "function": {
                        "name": call["function"]["name"], "arguments": ""}}]})
                    deltas.append({"tool_calls": [{"index": index, "function": {
                        "arguments": call["function"]["arguments"]}}]})
                chunks = [{"choices": [{"index": 0, "delta": delta, "finish_reason": None}]} for delta in deltas]
                chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": response["choices"][0][
                    "finish_reason"]}]})
                if (body.get("stream_options") or {}).get("include_usage"):
                    chunks.append({"choices": [], "usage": response["usage"]})
                try:
                    for chunk in chunks:
                        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "stub-model",
                                 **chunk}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")
                except (BrokenPipeError, ConnectionResetError):  # the client stopped reading
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> OpenAIStub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
