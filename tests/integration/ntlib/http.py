"""A small HTTP client for the REST API, over http.client.

request() sends one request on a fresh connection and returns a Response
with the status, the headers (names lowercased) and the body both raw and,
when it parses, as JSON.
"""

import http.client
import json

_NO_BODY = object()


class Response:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        self.text = raw.decode("utf-8", errors="replace")
        try:
            self.json = json.loads(self.text) if raw else None
        except ValueError:
            self.json = None

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def __repr__(self):
        body = self.text if len(self.text) < 400 else self.text[:400] + "..."
        return "<HTTP %d %s>" % (self.status, body)


class Client:
    """Talks to one server; key is the default bearer key (None: none)."""

    def __init__(self, host, port, key=None, timeout=15.0):
        self.host = host
        self.port = port
        self.key = key
        self.timeout = timeout

    def with_key(self, key):
        return Client(self.host, self.port, key, self.timeout)

    def request(self, method, path, body=_NO_BODY, raw=None, key=_NO_BODY,
                headers=None, timeout=None):
        """Sends method path.

        body: a value sent as JSON; raw: bytes sent as they are (or an
        iterable of bytes, sent chunked); key: the bearer key for this
        request (None: no Authorization header; default: the client's).
        """
        hdrs = {}
        key = self.key if key is _NO_BODY else key
        if key is not None:
            hdrs["Authorization"] = "Bearer " + key
        data = None
        if body is not _NO_BODY:
            data = json.dumps(body).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        elif raw is not None:
            data = raw
            hdrs["Content-Type"] = "application/json"
        if headers:
            hdrs.update(headers)
        conn = http.client.HTTPConnection(
            self.host, self.port,
            timeout=self.timeout if timeout is None else timeout)
        try:
            chunked = data is not None and not isinstance(data, bytes)
            try:
                conn.request(method, path, body=data, headers=hdrs,
                             encode_chunked=chunked)
            except (BrokenPipeError, ConnectionResetError):
                # The server answered (e.g. 413) before reading the whole
                # body; its answer is still there to read.
                pass
            resp = conn.getresponse()
            raw_body = resp.read()
            headers_out = {k.lower(): v for k, v in resp.getheaders()}
            return Response(resp.status, headers_out, raw_body)
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=_NO_BODY, **kw):
        return self.request("POST", path, body=body, **kw)
