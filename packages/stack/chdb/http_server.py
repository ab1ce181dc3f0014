"""ClickHouse's HTTP interface over chDB (an in-process current ClickHouse), for tests.

The project's SQL must run on Debian's ClickHouse 18.16 and on current releases. chDB (PyPI
chdb-core) embeds a current engine but has no server; this serves the subset of ClickHouse's HTTP
protocol that @clickhouse/client speaks (query in the body or the `query` parameter, INSERT data in
the body, settings as URL parameters, `database`, /ping, errors as `Code: N. DB::Exception: ...`
with a non-200 status), so the same client code runs against both engines. One session, one
request at a time: the engine is the real one, only the transport is ours.

Usage: http_server.py --port 8124 --path DATA_DIR
"""

import argparse
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from chdb import session as chdb_session

# URL parameters that are the HTTP protocol's own, not ClickHouse settings.
NOT_SETTINGS = {
    "query", "database", "query_id", "default_format", "session_id", "session_timeout",
    "session_check", "user", "password", "wait_end_of_query", "enable_http_compression",
    "send_progress_in_http_headers", "http_headers_progress_interval_ms", "compress",
    "decompress", "buffer_size",
}
INSERT_FORMAT = re.compile(r"^\s*(INSERT\s+INTO\s+.+?)\s+FORMAT\s+(\w+)\s*$", re.IGNORECASE | re.DOTALL)
ERROR_CODE = re.compile(r"Code:\s*(\d+)")


class Engine:
    def __init__(self, path: str) -> None:
        self.session = chdb_session.Session(path)
        self.lock = threading.Lock()

    def run(self, params: dict, body: bytes) -> bytes:
        with self.lock:
            for name, value in params.items():
                if name not in NOT_SETTINGS and not name.startswith("param_"):
                    self.session.query(f"SET {name} = {literal(value)}")
            database = params.get("database")
            if database:
                self.session.query(f"USE `{database}`")
            url_query = params.get("query")
            if url_query is not None and body:
                insert = INSERT_FORMAT.match(url_query)
                if insert:
                    inserter = self.session.send_insert(insert.group(1), insert.group(2))
                    inserter.append(body)
                    inserter.finish()
                    return b""
                text = url_query + "\n" + body.decode("utf-8")
            else:
                text = url_query if url_query is not None else body.decode("utf-8")
            result = self.session.query(text, params.get("default_format", "TabSeparated"))
            return result.bytes()


def literal(value: str) -> str:
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Handler(BaseHTTPRequestHandler):
    engine: Engine
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # one line per error only (below)
        pass

    def answer(self, status: int, body: bytes, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def handle_query(self) -> None:
        url = urlsplit(self.path)
        if url.path in ("/ping", "/"):
            if url.path == "/ping" or (self.command == "GET" and not url.query):
                return self.answer(200, b"Ok.\n")
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = self.read_chunked()
        try:
            out = self.engine.run(params, body)
        except Exception as e:  # the engine's own error text, as ClickHouse's HTTP interface gives it
            text = str(e)
            code = ERROR_CODE.search(text)
            print(f"error: {text[:500]}", flush=True)
            return self.answer(500, (text if code else f"Code: 1000. DB::Exception: {text}").encode(),
                               {"X-ClickHouse-Exception-Code": code.group(1) if code else "1000"})
        self.answer(200, out, {"X-ClickHouse-Summary": "{}"})

    def read_chunked(self) -> bytes:
        chunks = []
        while True:
            size = int(self.rfile.readline().strip().split(b";")[0], 16)
            if size == 0:
                self.rfile.readline()
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    do_GET = handle_query
    do_POST = handle_query


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", required=True)
    a = ap.parse_args()
    Handler.engine = Engine(a.path)
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    print(f"current ClickHouse (chDB) on http://127.0.0.1:{a.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
