"""A small real OpenAI-compatible HTTP server on 127.0.0.1 whose behaviour each test scripts."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOpenAI:
    """Serves /v1/chat/completions. `script` is a list of behaviours used in turn (the last repeats):
    ("ok", text) | ("stream", text) | ("status", code) | ("sleep", seconds) | ("raw", body) | ("echo_auth", code)
    | ("trickle", (text, seconds)): one token every `seconds` (streamed as SSE, or as body bytes when not streaming)
    | ("stream_then_hang", (text, seconds)): stream `text`, then send nothing for `seconds`
    """

    def __init__(self, script):
        self.script = list(script)
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                self._send(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                outer.requests.append({"body": body, "auth": self.headers.get("Authorization"), "path": self.path,
                                       "at": time.monotonic()})
                kind, arg = outer.script[min(len(outer.requests) - 1, len(outer.script) - 1)]
                if kind == "ok":
                    self._send(200, outer.completion(arg))
                elif kind == "stream":
                    self._stream(arg)
                elif kind == "status":
                    self._send(arg, {"error": {"message": "scripted failure", "type": "server_error"}})
                elif kind == "echo_auth":
                    self._send(arg, {"error": {"message": f"bad key {self.headers.get('Authorization')}"}})
                elif kind == "sleep":
                    time.sleep(arg)
                    self._send(200, outer.completion("too late"))
                elif kind == "raw":
                    self._raw(200, arg.encode())
                elif kind == "trickle":
                    text, seconds = arg
                    if body.get("stream"):
                        self._stream(text, pause=seconds, size=1)
                    else:
                        self._trickle_body(json.dumps(outer.completion(text)).encode(), seconds)
                elif kind == "stream_then_hang":
                    text, seconds = arg
                    self._stream(text, hang=seconds)

            def _send(self, code, payload):
                self._raw(code, json.dumps(payload).encode(), "application/json")

            def _raw(self, code, data, ctype="application/json"):
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    if code == 429:
                        self.send_header("Retry-After", "0")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _stream(self, text, pause=0.0, size=7, hang=0.0):
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for i in range(0, len(text), size):
                        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "fake",
                                 "choices": [{"index": 0, "delta": {"content": text[i:i + size]}, "finish_reason": None}]}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                        time.sleep(pause)
                    time.sleep(hang)
                    self.wfile.write(b"data: [DONE]\n\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _trickle_body(self, data, seconds):
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    for i in range(0, len(data), 16):
                        self.wfile.write(data[i:i + 16])
                        self.wfile.flush()
                        time.sleep(seconds)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True  # a test never waits for a scripted hang to end
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def completion(text):
        return {"id": "c", "object": "chat.completion", "created": 0, "model": "fake",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
