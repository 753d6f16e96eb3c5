"""Media fetching and decoding: what a reward that reads the prompt's image costs over the same reward on text.

    .venv/bin/python bench/media_bench.py [--rounds 30] [--size 1024x768]

A local HTTP server (127.0.0.1, allow-listed as a reward service's trusted bucket would be) serves one PNG.
Each round scores one group of 16 responses to one prompt that carries that image's URL, through the same
path a served request takes (rewardkit._engine.pipeline.evaluate: media fetched before the reward runs, then
the reward, here in-process so the numbers are the fetch and the decode, not the worker pipe):

- text only: the reward reads the response alone (nothing is fetched);
- image size, cold cache: a new fetcher each round: one fetch for the 16 responses, the header read 16 times;
- image size, warm cache: the same fetcher across rounds (the next group of the same prompt);
- full decode, warm cache: the reward decodes the pixels (open_image) in each of its 16 calls.

Printed: the median and p90 milliseconds per group, and the server's hits per group (1 is the claim).
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import io
import statistics
import threading
import time
from typing import Any, Sequence

from rewardkit import Media, Message, Sample, reward
from rewardkit._engine.inline import InlineEngine
from rewardkit._engine.pipeline import evaluate
from rewardkit.media import image_size, open_image
from rewardkit.media.fetch import Fetcher, FetchSettings
from rewardkit.registry import Registry, spec_of

GROUP = 16


@reward
def text_only(response: str) -> float:
    return float(response.strip().isdigit())


@reward
def width_answer(response: str, images: Sequence[Media]) -> float:
    return float(response.strip() == str(image_size(images[0])[0]))


@reward
def decoded_answer(response: str, images: Sequence[Media]) -> float:
    picture = open_image(images[0])
    return float(response.strip() == str(picture.size[0]))


def serve_png(width: int, height: int) -> tuple[http.server.ThreadingHTTPServer, list[int]]:
    from PIL import Image

    buffer = io.BytesIO()
    Image.effect_noise((width, height), 64).convert("RGB").save(buffer, format="PNG")  # noise: a realistic size
    body, hits = buffer.getvalue(), [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits[0] += 1
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"image: {width}x{height} PNG, {len(body):,} bytes")
    return server, hits


def group(url: str, index: int) -> list[Sample]:
    # A distinct query string per round: the cold rows must never be answered from an earlier round's cache.
    prompt = (Message("user", "How wide is this image, in pixels?", media=(Media("image", "image/png",
                                                                                  uri=f"{url}?r={index}"),)),)
    return [Sample(response=str(1000 + i), prompt=prompt, trajectory=(*prompt, Message("assistant", str(1000 + i))))
            for i in range(GROUP)]


async def run(name: str, url: str, rounds: int, hits: list[int], fetcher: Fetcher | None,
              cold: bool, warm_key: bool) -> dict[str, Any]:
    fn = {"text": text_only, "size": width_answer, "decode": decoded_answer}[name]
    engine = InlineEngine(Registry([spec_of(fn)]), timeout=60)
    await engine.start()
    times, fetched = [], []
    for index in range(rounds):
        samples = group(url, 0 if warm_key else index)
        use = Fetcher(FetchSettings(allow_hosts="127.0.0.1")) if cold else fetcher
        before = hits[0]
        start = time.perf_counter()
        outcomes = await evaluate(spec_of(fn), samples, engine, use)
        times.append((time.perf_counter() - start) * 1000)
        fetched.append(hits[0] - before)
        assert all(o.ok for o in outcomes), [o.failure for o in outcomes if not o.ok]
    await engine.stop()
    times.sort()
    return {"median": statistics.median(times), "p90": times[int(len(times) * 0.9) - 1],
            "fetches": statistics.median(fetched)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--size", default="1024x768")
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.split("x"))
    server, hits = serve_png(width, height)
    url = f"http://127.0.0.1:{server.server_port}/chart.png"
    shared = Fetcher(FetchSettings(allow_hosts="127.0.0.1"))
    rows = [("text only (nothing fetched)", "text", False, False),
            ("image size, cold cache", "size", True, False),
            ("image size, warm cache", "size", False, True),
            ("full decode, warm cache", "decode", False, True)]
    print(f"{'group of 16 responses, one image':34} {'median ms':>10} {'p90 ms':>8} {'fetches/group':>14}")
    for label, name, cold, warm in rows:
        result = asyncio.run(run(name, url, args.rounds, hits, shared, cold, warm))
        print(f"{label:34} {result['median']:10.2f} {result['p90']:8.2f} {result['fetches']:14g}")
    server.shutdown()


if __name__ == "__main__":
    main()
