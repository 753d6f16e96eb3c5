"""Media from request to reward: parts read in every contract, fetched safely and once, failures with codes.

Real parts: images drawn with Pillow, a local HTTP server (tests/media_servers.py) that also redirects to a
loopback address, stalls, and lies about sizes; a Cloud Storage emulator reached by the real
google-cloud-storage client; both contracts through a real `rewardkit serve`."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from rewardkit import Media, MediaError
from rewardkit.media import image_size
from rewardkit.media.fetch import Fetcher, FetchSettings

from .judge_server import running
from .media_servers import MediaServer, media_server, png, storage_emulator
from .served import Served, serve

REWARDS = str(Path(__file__).with_name("media_rewards.py"))
BUCKET = "rk-media"


@pytest.fixture(scope="module")
def media() -> Iterator[MediaServer]:
    with media_server() as server:
        yield server


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    with storage_emulator(BUCKET, {"charts/bar.png": (png(320, 200, "blue"), "image/png")}) as host:
        yield host


@pytest.fixture(scope="module")
def judge_url() -> Iterator[str]:
    with running() as url:
        yield url


@pytest.fixture(scope="module")
def served(media: MediaServer, emulator: str, judge_url: str) -> Iterator[Served]:
    # The tests' media server is on loopback: reachable only through the allow-list, by its host name.
    env = {"REWARDKIT_MEDIA_ALLOW_HOSTS": "localhost", "STORAGE_EMULATOR_HOST": emulator,
           "REWARDKIT_JUDGE_BASE_URL": f"{judge_url}/v1", "REWARDKIT_JUDGE_MODEL": "judge-vl", "OPENAI_API_KEY": "k"}
    with serve([REWARDS, "--workers", "1"], env=env, timeout=120) as server:
        yield server


def fetch(media: Media, **settings: Any) -> Media:
    return asyncio.run(Fetcher(FetchSettings(**settings)).fetch(media))


def failure(media: Media, **settings: Any) -> MediaError:
    with pytest.raises(MediaError) as caught:
        fetch(media, **settings)
    return caught.value


def data_uri(body: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(body).decode()}"


# ---- fetching, in process ------------------------------------------------------------

def test_loopback_is_refused_by_default_and_reached_through_the_allow_list(media: MediaServer) -> None:
    for host in ("127.0.0.1", "localhost"):
        error = failure(Media("image", "image/png", uri=media.url("/img.png", host)))
        assert error.code == "MEDIA_FETCH_ERROR" and "loopback" in str(error)
    got = fetch(Media("image", "image/png", uri=media.url("/img.png")), allow_hosts="localhost")
    assert got.data == media.image and image_size(got) == (64, 48)


def test_a_redirect_to_a_loopback_address_is_refused(media: MediaServer) -> None:
    error = failure(Media("image", "image/png", uri=media.url("/redirect")), allow_hosts="localhost")
    assert error.code == "MEDIA_FETCH_ERROR" and "127.0.0.1" in str(error) and "loopback" in str(error)


def test_metadata_and_private_addresses_are_refused() -> None:
    for address in ("169.254.169.254", "10.1.2.3", "[::1]", "[::ffff:127.0.0.1]", "100.100.100.200"):
        error = failure(Media("image", uri=f"http://{address}/latest/meta-data/"))
        assert error.code == "MEDIA_FETCH_ERROR" and "refused" in str(error), address


def test_a_stalled_server_is_a_fetch_error_within_the_timeout(media: MediaServer) -> None:
    error = failure(Media("image", "image/png", uri=media.url("/stall")), allow_hosts="localhost", timeout=0.5)
    assert error.code == "MEDIA_FETCH_ERROR" and "0.5 s" in str(error)


def test_sizes_are_limited_whatever_the_server_declares(media: MediaServer) -> None:
    declared = failure(Media("image", "image/png", uri=media.url("/huge")), allow_hosts="localhost")
    assert declared.code == "MEDIA_TOO_LARGE" and "Content-Length" in str(declared)
    streamed = failure(Media("image", "image/png", uri=media.url("/endless")), allow_hosts="localhost", max_mb=1)
    assert streamed.code == "MEDIA_TOO_LARGE"
    inline = failure(Media("image", "image/png", uri=data_uri(png(900, 900) + b"\0" * 2_000_000)), max_mb=1)
    assert inline.code == "MEDIA_TOO_LARGE"


def test_a_body_that_is_not_its_declared_type_is_unsupported(media: MediaServer) -> None:
    error = failure(Media("image", "image/png", uri=media.url("/html")), allow_hosts="localhost")
    assert error.code == "MEDIA_UNSUPPORTED" and "text/html" in str(error)
    assert failure(Media("image", uri="data:image/png;base64,!!notbase64")).code == "MEDIA_UNSUPPORTED"
    assert failure(Media("image", uri="s3://bucket/a.png")).code == "MEDIA_UNSUPPORTED"


def test_file_uris_only_under_the_allowed_folder(tmp_path: Path) -> None:
    picture = tmp_path / "a.png"
    picture.write_bytes(png())
    assert failure(Media("image", uri=picture.as_uri())).code == "MEDIA_UNSUPPORTED"
    assert fetch(Media("image", uri=picture.as_uri()), file_root=str(tmp_path)).data == picture.read_bytes()
    assert failure(Media("image", uri="file:///etc/hostname"), file_root=str(tmp_path)).code == "MEDIA_FETCH_ERROR"


def test_gs_uris_through_the_real_client(emulator: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator)
    got = fetch(Media("image", "image/png", uri=f"gs://{BUCKET}/charts/bar.png"))
    assert image_size(got) == (320, 200)
    assert failure(Media("image", uri=f"gs://{BUCKET}/missing.png")).code == "MEDIA_FETCH_ERROR"


def test_concurrent_asks_for_one_uri_fetch_it_once(media: MediaServer, tmp_path: Path) -> None:
    fetcher = Fetcher(FetchSettings(allow_hosts="localhost", cache_dir=str(tmp_path)))
    uri = media.url("/img.png?once")
    before = media.hits["/img.png?once"]

    async def sixteen() -> list[Media]:
        return list(await asyncio.gather(*(fetcher.fetch(Media("image", uri=uri)) for _ in range(16))))

    assert all(m.data == media.image for m in asyncio.run(sixteen()))
    assert media.hits["/img.png?once"] - before == 1 and fetcher.counts.fetched == 1
    # A new process (a new fetcher) on the same cache folder reads the disk, not the server.
    again = Fetcher(FetchSettings(allow_hosts="localhost", cache_dir=str(tmp_path)))
    assert asyncio.run(again.fetch(Media("image", uri=uri))).data == media.image
    assert media.hits["/img.png?once"] - before == 1


# ---- served: both contracts ---------------------------------------------------------------

def post(served: Served, path: str, body: Any) -> httpx.Response:
    return httpx.post(served.url + path, json=body, timeout=60)


def test_vertex_file_data_and_inline_data_reach_the_reward(served: Served) -> None:
    wav = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\0" * 28
    body = {"example": {"contents": [{"role": "user", "parts": [
        {"text": "How wide is the chart?"},
        {"fileData": {"mimeType": "image/png", "fileUri": f"gs://{BUCKET}/charts/bar.png"}},
        {"inline_data": {"mime_type": "audio/wav", "data": base64.b64encode(wav).decode()}}]}]},
        "response": {"role": "model", "parts": [{"text": "320"}, {"inlineData": {
            "mimeType": "image/png", "data": base64.b64encode(png(10, 20)).decode()}}]}}
    answer = post(served, "/rewards/media_seen", body)
    assert answer.status_code == 200, answer.text
    info = json.loads(answer.json()["user_requested_aux_info"])
    assert answer.json()["reward"] == pytest.approx(0.3)
    assert info["reason"].startswith("image:image/png:") and ":320x200" in info["reason"]
    assert f"audio:audio/wav:{len(wav)}" in info["reason"] and info["reason"].endswith(":10x20")


def test_dashscope_image_audio_and_video_parts_reach_the_reward(served: Served, media: MediaServer) -> None:
    content = [{"type": "text", "text": "Describe"},
               {"type": "image_url", "image_url": {"url": media.url("/img.png")}},
               {"type": "input_audio", "input_audio": {"data": base64.b64encode(b"ID3" + b"\0" * 40).decode(),
                                                       "format": "mp3"}},
               {"type": "video", "video": [media.url("/f1.jpg"), media.url("/f2.jpg")]}]
    body = {"func_type": "reward", "agent_output": {"messages": [
        {"role": "user", "content": content}, {"role": "assistant", "content": "a red square"}]}}
    answer = post(served, "/rewards/media_seen/api/v1", body)
    assert answer.status_code == 200 and answer.json()["status"] == "success", answer.text
    assert answer.json()["reward"]["reward_score"] == pytest.approx(0.3)


def test_an_image_url_at_a_loopback_address_fails_the_call_with_its_code(served: Served, media: MediaServer) -> None:
    content = [{"type": "image_url", "image_url": {"url": media.url("/img.png", host="127.0.0.1")}}]
    body = {"func_type": "reward", "agent_output": {"messages": [
        {"role": "user", "content": content}, {"role": "assistant", "content": "x"}]}}
    answer = post(served, "/rewards/image_width/api/v1", body).json()
    assert answer["status"] == "failed" and answer["error_code"] == "MEDIA_FETCH_ERROR", answer
    assert "loopback" in answer["error"]
    vertex = {"example": {"contents": [{"role": "user", "parts": [
        {"fileData": {"mimeType": "image/png", "fileUri": media.url("/img.png", host="127.0.0.1")}}]}]},
        "response": {"role": "model", "parts": [{"text": "x"}]}}
    refused = post(served, "/rewards/image_width", vertex)
    assert refused.status_code == 500 and refused.json()["error_code"] == "MEDIA_FETCH_ERROR"


def test_a_group_of_sixteen_sharing_one_image_fetches_it_once(served: Served, media: MediaServer) -> None:
    path = "/img.png?group"
    prompt = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": media.url(path)}}]}
    outputs = [{"messages": [prompt, {"role": "assistant", "content": f"answer {i}"}]} for i in range(16)]
    grouped = post(served, "/rewards/group_widths/api/v1", {"func_type": "group_reward", "agent_outputs": outputs})
    single = [post(served, "/rewards/image_width/api/v1", {"func_type": "reward", "agent_output": o})
              for o in outputs]
    assert [r["reward_score"] for r in grouped.json()["reward"]["rewards"]] == [0.064] * 16
    assert all(r.json()["reward"]["reward_score"] == 0.064 for r in single)
    assert media.hits[path] == 1


def test_a_text_only_reward_fetches_nothing(served: Served, media: MediaServer) -> None:
    path = "/img.png?unread"
    body = {"func_type": "reward", "agent_output": {"messages": [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": media.url(path)}}]},
        {"role": "assistant", "content": "fine"}]}}
    assert post(served, "/rewards/text_only/api/v1", body).json()["reward"]["reward_score"] == 1.0
    assert media.hits[path] == 0


# ---- judges that see ------------------------------------------------------------------------

def _judge_bodies(judge_url: str) -> list[dict[str, Any]]:
    return httpx.get(f"{judge_url}/stats?bodies=1").json()["bodies"]


def _image_parts(body: dict[str, Any]) -> list[str]:
    return [p["image_url"]["url"] for m in body["messages"] if isinstance(m["content"], list)
            for p in m["content"] if p.get("type") == "image_url"]


def _judged_request(media: MediaServer, path: str) -> dict[str, Any]:
    content = [{"type": "text", "text": "What colour is the square?"},
               {"type": "image_url", "image_url": {"url": media.url(path)}}]
    return {"func_type": "reward", "agent_output": {"messages": [
        {"role": "user", "content": content}, {"role": "assistant", "content": "red"}]}}


@pytest.mark.parametrize("reward", ["sees", "grades"])
def test_a_judge_is_shown_the_prompts_image_inline(served: Served, media: MediaServer, judge_url: str,
                                                   reward: str) -> None:
    httpx.post(f"{judge_url}/control", json={"default": 'Score: 4 {"accurate": "excellent"}'})
    answer = post(served, f"/rewards/{reward}/api/v1", _judged_request(media, "/img.png?judged"))
    assert answer.json()["status"] == "success", answer.text
    [body] = _judge_bodies(judge_url)
    assert _image_parts(body) == [data_uri(media.image)]


def test_a_judge_that_fetches_itself_gets_the_url_and_nothing_is_fetched(served: Served, media: MediaServer,
                                                                         judge_url: str) -> None:
    httpx.post(f"{judge_url}/control", json={"default": "Score: 4"})
    path = "/img.png?judge-fetches"
    assert post(served, "/rewards/sees_urls/api/v1", _judged_request(media, path)).json()["status"] == "success"
    assert _image_parts(_judge_bodies(judge_url)[0]) == [media.url(path)] and media.hits[path] == 0


def test_a_pairwise_judge_is_shown_the_prompts_image(served: Served, media: MediaServer, judge_url: str) -> None:
    httpx.post(f"{judge_url}/control", json={"default": "Verdict: A"})
    prompt = _judged_request(media, "/img.png?pairwise")["agent_output"]["messages"][0]
    outputs = [{"messages": [prompt, {"role": "assistant", "content": text}]} for text in ("red", "blue")]
    answer = post(served, "/rewards/compares/api/v1", {"func_type": "group_reward", "agent_outputs": outputs})
    assert answer.json()["status"] == "success", answer.text
    assert all(_image_parts(b) == [data_uri(media.image)] for b in _judge_bodies(judge_url))


# ---- validate-data ----------------------------------------------------------------------------

def test_validate_data_checks_media_parts_by_the_platforms_rules(tmp_path: Path) -> None:
    from rewardkit._replay.datasets import validate_dataset

    def part(uri: str, mime: str = "image/png") -> dict[str, Any]:
        return {"fileData": {"mimeType": mime, "fileUri": uri}}

    lines = [{"contents": [{"role": "user", "parts": [{"text": "Count"}, part("gs://b/a.png")]}]},
             {"contents": [{"role": "user", "parts": [part("s3://b/a.png"), part("gs://b/a.tif", "image/tiff")]}]},
             {"contents": [{"role": "user", "parts": [part(f"gs://b/{i}.png") for i in range(31)]}]}]
    vertex = tmp_path / "vertex.jsonl"
    vertex.write_text("\n".join(json.dumps(line) for line in lines))
    found = [(p.line, p.path) for p in validate_dataset(vertex, "vertex").problems]
    assert found == [(2, "contents[0].parts[0].fileData.fileUri"), (2, "contents[0].parts[1].fileData.mimeType"),
                     (3, "contents")]
    chat = [{"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What?"}, {"type": "image_url", "image_url": {"url": "ftp://host/a.png"}},
        {"type": "hologram", "hologram": {}}, {"type": "video", "video": ["oss://tmp/1.jpg"]}]}]}]
    dashscope = tmp_path / "dashscope.jsonl"
    dashscope.write_text(json.dumps(chat[0]))
    problems = validate_dataset(dashscope, "dashscope").problems
    assert [(p.path, "ftp:" in p.message or "hologram" in p.message) for p in problems] == [
        ("messages[0].content[1]", True), ("messages[0].content[2]", True)]


def test_unknown_part_kinds_are_kept_as_other_media_not_dropped() -> None:
    from rewardkit.contracts import registered

    contracts = {c.name: c for c in registered()}
    vertex = contracts["vertex"].parse({"example": {"contents": [{"role": "user", "parts": [
        {"text": "Look"}, {"hologram": {"depth": 3}}, {"executableCode": {"code": "print(1)"}}]}]},
        "response": {"role": "model", "parts": [{"text": "ok"}]}}).samples[0]
    chat = contracts["dashscope"].parse({"func_type": "reward", "agent_output": {"messages": [
        {"role": "user", "content": [{"type": "text", "text": "Look"}, {"type": "hologram", "depth": 3},
                                     {"image": "https://example.com/a.png"}]},
        {"role": "assistant", "content": "ok"}]}}).samples[0]
    assert [m.kind for m in vertex.media] == ["other"] and vertex.prompt_text == "Look"
    assert json.loads(vertex.media[0].read()) == {"hologram": {"depth": 3}}
    assert [(m.kind, m.uri) for m in chat.media] == [("other", None), ("image", "https://example.com/a.png")]
    assert json.loads(chat.media[0].read()) == {"type": "hologram", "depth": 3} and chat.prompt_text == "Look"


def test_slime_and_nova_prompts_carry_their_messages_media() -> None:
    from rewardkit.contracts import registered

    contracts = {c.name: c for c in registered()}
    image = {"type": "image", "image": "https://example.com/chart.png"}
    slime = contracts["slime"].parse({"prompt": [{"role": "user", "content": [{"type": "text", "text": "Read"},
                                                                                image]}],
                                      "response": "42", "label": "42"}).samples[0]
    nova = contracts["nova"].parse([{"id": "1", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "Read"},
                                     {"type": "image_url", "image_url": {"url": "https://example.com/chart.png"}}]},
        {"role": "assistant", "content": "42"}]}]).samples[0]
    for sample in (slime, nova):
        assert [(m.kind, m.mime_type, m.uri) for m in sample.images] == [
            ("image", "image/png", "https://example.com/chart.png")]
        assert sample.prompt_text == "Read"
