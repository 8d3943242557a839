"""A local chat-completions endpoint that judges success from the colour of the image it is sent.

It stands in for a VLM success detector: it decodes the PNG data URL of the request, and
answers "yes" when the frame is mostly green, "no" otherwise. Requests without an image get
an unsure answer, so a detector that never receives a frame can never decide an episode.
"""
from __future__ import annotations

import base64
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np


def mostly_green(rgb: np.ndarray) -> bool:
    red, green, blue = rgb.reshape(-1, 3).mean(axis=0)
    return green > red + 50 and green > blue + 50


class ColourJudge:
    """Serves POST /v1/chat/completions; `seen` lists the mean colour of every image judged."""

    def __init__(self):
        self.seen: list[tuple[float, float, float]] = []
        self.requests_without_image = 0
        judge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802 - the http.server API
                body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
                self._answer(judge.judge(body))

            def _answer(self, text):
                payload = json.dumps({'choices': [{'message': {'role': 'assistant', 'content': text}}]}).encode()
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base_url = f'http://127.0.0.1:{self.server.server_address[1]}/v1'

    def judge(self, body: dict) -> str:
        from PIL import Image
        urls = [part['image_url']['url'] for message in body['messages'] if isinstance(message['content'], list)
                for part in message['content'] if part.get('type') == 'image_url']
        if not urls:
            self.requests_without_image += 1
            return '{"success": "no", "confidence": 0.1}'
        png = base64.b64decode(urls[-1].split(',', 1)[1])
        rgb = np.asarray(Image.open(io.BytesIO(png)).convert('RGB'))
        self.seen.append(tuple(float(c) for c in rgb.reshape(-1, 3).mean(axis=0)))
        return json.dumps({'success': 'yes' if mostly_green(rgb) else 'no', 'confidence': 0.95})

    def close(self):
        self.server.shutdown()
        self.server.server_close()
