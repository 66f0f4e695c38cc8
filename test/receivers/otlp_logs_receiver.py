# Minimal OTLP/HTTP logs receiver (POST /v1/logs, JSON encoding) that validates each body the way
# an OpenTelemetry Collector does: protobuf JSON parsing into ExportLogsServiceRequest from the
# opentelemetry-proto package (unknown fields are rejected). Appends each accepted request, as
# canonical protobuf JSON, to the NDJSON file given; answers 400 with the parse error otherwise.
# Usage: python3 otlp_logs_receiver.py PORT_FILE OUT_FILE   (listens on 127.0.0.1, ephemeral port)
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse

port_file, out_file = sys.argv[1], sys.argv[2]

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('content-length', '0')))
        if self.path != '/v1/logs' or self.headers.get('content-type', '').split(';')[0] != 'application/json':
            self.send_response(404 if self.path != '/v1/logs' else 415); self.end_headers(); return
        try:
            msg = json_format.Parse(body, ExportLogsServiceRequest())
        except Exception as e:  # json_format.ParseError and JSON errors
            out = json.dumps({'code': 3, 'message': str(e)}).encode()
            self.send_response(400); self.send_header('content-type', 'application/json'); self.end_headers(); self.wfile.write(out); return
        with open(out_file, 'a') as f:
            f.write(json.dumps(json_format.MessageToDict(msg)) + '\n')
        out = json_format.MessageToJson(ExportLogsServiceResponse()).encode()
        self.send_response(200); self.send_header('content-type', 'application/json'); self.end_headers(); self.wfile.write(out)
    def log_message(self, *a): pass

srv = HTTPServer(('127.0.0.1', 0), Handler)
with open(port_file, 'w') as f: f.write(str(srv.server_address[1]))
srv.serve_forever()
