"""grounding_iou and point_in_box: options the fixture files cannot set, images read with Pillow, the matching.

The labelled cases with the default options are in rewards/fixtures/{grounding_iou,point_in_box}.reward.jsonl
(replayed through both contracts by test_builtin_rewards); these are the cases that need an option, an image
or many random inputs.
"""

import io
import itertools
import json
import random
import struct
import zlib

import pytest

import rewardkit
from rewardkit import Media, Message, Sample
from rewards.vision import grounding_iou, point_in_box
from rewards.vision._formats import smart_resize
from rewards.vision._geometry import max_weight_matching

PIL = pytest.importorskip("PIL.Image")

IMG = {"image_size": [1000, 800]}
GOLD = [200, 80, 500, 400]  # pixels of a 1000x800 image: [200, 100, 500, 500] on 0-1000
QWEN = [200, 100, 500, 500]


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    PIL.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims another size (what a decompression bomb's header looks like)."""
    data = bytearray(png(8, 8))
    data[16:24] = struct.pack(">II", width, height)  # IHDR's width and height
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # its CRC over type and data
    return bytes(data)


def boxes(*items, key="bbox_2d"):
    return json.dumps([{key: list(b)} for b in items])


def grounding(response, gold=(GOLD,), refs=None, **options):
    return grounding_iou(response, list(gold), {**IMG, **(refs or {})}, **options)


# ---- formats ----------------------------------------------------------------------

@pytest.mark.parametrize("response, box_format, expected", [
    (boxes(GOLD, key="bbox"), "xyxy_pixels", 1.0),                   # VLM-R1: pixels of the original image
    (json.dumps(GOLD), "xyxy_pixels", 1.0),                          # a bare list, convention declared
    (json.dumps([100, 200, 500, 500]), "yxyx_1000", 1.0),
    (json.dumps([0.2, 0.1, 0.5, 0.5]), "xyxy_unit", 1.0),
    (boxes([100, 200, 500, 500], key="box_2d"), "gemini", 1.0),
    (boxes(QWEN), "qwen3", 1.0),
    (boxes(QWEN), "xyxy_pixels", 5 / 7),                              # 0-1000 numbers read as pixels: y is off
    (json.dumps(QWEN), "auto", 0.0),                                # auto reads no bare list
])
def test_declared_conventions(response, box_format, expected):
    assert grounding(response, box_format=box_format).value == pytest.approx(expected, abs=1e-3)


def test_qwen25_boxes_are_pixels_of_the_resized_input():
    # A 1000x800 image: Qwen2.5-VL's processor resizes it to 1008x812 (multiples of 28), and the model's
    # pixel boxes are on that grid; the same numbers read as original pixels are off.
    assert smart_resize(1000, 800, 3136, 12845056) == (1008, 812)
    on_input = [round(200 * 1.008), round(80 * 812 / 800), round(500 * 1.008), round(400 * 812 / 800)]
    assert grounding(boxes(on_input), box_format="qwen2.5").value == pytest.approx(1.0, abs=1e-2)
    # A smaller max_pixels (a training config's) shrinks the grid: the reward follows it.
    small = smart_resize(1000, 800, 3136, 200_000)
    scaled = [200 * small[0] / 1000, 80 * small[1] / 800, 500 * small[0] / 1000, 400 * small[1] / 800]
    assert grounding(boxes(scaled), box_format="qwen2.5", max_pixels=200_000).value == pytest.approx(1.0, abs=1e-2)
    # references.input_size, when the dataset recorded it, wins over the computed size.
    assert grounding(boxes([100, 40, 250, 200]), refs={"input_size": [500, 400]}, box_format="qwen2.5").value == 1.0


def test_smart_resize_keeps_the_area_within_bounds():
    for width, height in [(4000, 3000), (30, 30), (1920, 1080), (28, 5000)]:
        w, h = smart_resize(width, height, 3136, 1_003_520)
        assert w % 28 == 0 and h % 28 == 0 and 3136 <= w * h <= 1_003_520


# ---- modes ------------------------------------------------------------------------

CAT = [600, 400, 900, 720]  # [600, 500, 900, 900] on 0-1000


@pytest.mark.parametrize("mode, response, expected", [
    ("iou_threshold", boxes([200, 100, 500, 300]), 1.0),           # IoU 0.5 meets 0.5
    ("iou_threshold", boxes([200, 100, 500, 290]), 0.0),           # IoU 0.475
    ("iou_threshold", boxes(QWEN, QWEN), 0.0),                     # a box left over
    ("f1", boxes(QWEN), 1.0),
    ("f1", boxes(QWEN, [0, 0, 100, 100]), 2 / 3),
    ("f1", boxes(QWEN, QWEN, QWEN, QWEN), 2 / 5),                  # duplicates pair once
    ("f1", boxes([200, 100, 500, 300]), 1.0),                      # at the threshold, not IoU-weighted
])
def test_modes_on_one_object(mode, response, expected):
    assert grounding(response, mode=mode).value == pytest.approx(expected, abs=1e-6)


def test_f1_pairs_one_to_one_across_several_objects():
    two = boxes(QWEN, [600, 500, 900, 900])
    assert grounding(two, gold=(GOLD, CAT), mode="f1").value == 1.0
    # One box between both objects overlaps each below the threshold: no pair.
    assert grounding(boxes([350, 300, 750, 700]), gold=(GOLD, CAT), mode="f1").value == 0.0
    # Greedy matching would give the first box to the first gold and leave the second unmatched; the
    # assignment pairs both (each box meets one gold at >= 0.5 only through the other pairing).
    golds = ([0, 0, 400, 400], [200, 0, 600, 400])
    stated = boxes([150, 0, 550, 500], [0, 0, 400, 500])  # on 0-1000 of a 1000x800 image
    assert grounding(stated, gold=golds, mode="f1").value == 1.0


def test_labels_split_objects_of_different_classes():
    gold = ({"bbox": GOLD, "label": "dog"}, {"bbox": CAT, "label": "cat"})
    right = json.dumps([{"bbox_2d": QWEN, "label": "dog"}, {"bbox_2d": [600, 500, 900, 900], "label": "cat"}])
    swapped = right.replace('"dog"', '"X"').replace('"cat"', '"dog"').replace('"X"', '"cat"')
    assert grounding(right, gold=gold, mode="f1").value == 1.0
    assert grounding(swapped, gold=gold, mode="f1").value == 0.0
    assert grounding(swapped, gold=gold, mode="f1", match_labels=False).value == 1.0


# ---- what earns nothing extra -----------------------------------------------------

def test_more_boxes_never_score_more_than_the_right_ones():
    rng = random.Random(7)
    for mode in ("iou", "iou_threshold", "f1"):
        right = grounding(boxes(QWEN), mode=mode).value
        for _ in range(40):
            extra = [sorted(rng.sample(range(0, 1001), 2)) for _ in range(2)]
            junk = [extra[0][0], extra[1][0], extra[0][1], extra[1][1]]
            for added in ([junk], [QWEN], [junk, QWEN, junk]):
                assert grounding(boxes(QWEN, *added), mode=mode).value <= right


@pytest.mark.parametrize("mode", ["iou", "f1", "iou_threshold"])
@pytest.mark.parametrize("trick", [
    boxes([0, 0, 1000, 1000]),                                  # the whole image
    boxes([0, 0, 1000, 1000], [0, 0, 1000, 1000]),
    boxes([-500, -500, 1500, 1500]),                            # past every edge
    boxes([200, 100, 2000, 500]),                               # drawn past one edge to cover more
    boxes([300, 300, 300, 300], [200, 300, 500, 300]),          # no area
    json.dumps([{"bbox_2d": [x, y, x + 100, y + 100]} for x in range(0, 1000, 100) for y in range(0, 1000, 100)]),
])
def test_tricks_score_nothing_on_a_small_object(trick, mode):
    small = ([300, 300, 350, 340],)  # 5% x 5% of the image
    assert grounding(trick, gold=small, mode=mode).value < 0.05


def test_a_whole_image_box_scores_when_the_object_fills_the_image():
    big = ([20, 16, 980, 784],)  # 92% of the picture
    assert grounding(boxes([0, 0, 1000, 1000]), gold=big).value > 0.9


def test_options_are_checked_by_name():
    for options in ({"mode": "map"}, {"box_format": "yolo"}, {"threshold": 0}, {"max_box_area": 2}):
        with pytest.raises(ValueError, match=next(iter(options))):
            grounding(boxes(QWEN), **options)


# ---- the matching -----------------------------------------------------------------

def test_hungarian_matches_brute_force_on_random_matrices():
    rng = random.Random(3)
    for _ in range(300):
        rows, columns = rng.randint(1, 5), rng.randint(1, 5)
        weights = [[rng.choice([0.0, rng.random(), 3 + rng.random()]) for _ in range(columns)] for _ in range(rows)]
        pairs = max_weight_matching(weights)
        assert len({r for r, _ in pairs}) == len(pairs) == len({c for _, c in pairs})
        got = sum(weights[r][c] for r, c in pairs)
        small, large = (rows, columns) if rows <= columns else (columns, rows)
        best = 0.0
        for chosen in itertools.permutations(range(large), small):
            total = sum((weights[i][j] if rows <= columns else weights[j][i]) for i, j in enumerate(chosen))
            best = max(best, total)
        assert got == pytest.approx(best)


def test_a_hundred_boxes_against_ten_is_quick():
    import time

    golds = [[i * 90, 0, i * 90 + 80, 80] for i in range(10)]
    stated = json.dumps([{"bbox_2d": [i * 10, 0, i * 10 + 80, 100]} for i in range(100)])
    start = time.process_time()
    grounding(stated, gold=golds, refs={"box_format": "xyxy_1000"}, mode="f1")
    assert time.process_time() - start < 1.0


# ---- images -----------------------------------------------------------------------

def sample_with_image(response: str, references: dict, image: bytes) -> Sample:
    media = Media("image", "image/png", data=image)
    prompt = (Message("user", "Find the dog.", media=(media,)),)
    return Sample(response=response, prompt=prompt, references=references,
                  trajectory=(*prompt, Message("assistant", response)))


def test_the_image_size_is_read_from_the_image_through_the_images_input():
    outcome = rewardkit.call(grounding_iou, sample_with_image(boxes(QWEN), {"boxes": json.dumps([GOLD])},
                                                              png(1000, 800)))
    assert outcome.score is not None and outcome.score.value == pytest.approx(1.0)
    # The same numbers on a 2000x800 image are another place.
    outcome = rewardkit.call(grounding_iou, sample_with_image(boxes(QWEN), {"boxes": json.dumps([GOLD])},
                                                              png(2000, 800)))
    assert outcome.score is not None and outcome.score.value < 0.5


def test_an_unreadable_image_is_a_failure_not_a_score():
    outcome = rewardkit.call(grounding_iou, sample_with_image(boxes(QWEN), {"boxes": json.dumps([GOLD])},
                                                              b"not an image"))
    assert outcome.score is None and outcome.failure is not None
    assert outcome.failure.code == "MEDIA_UNSUPPORTED", outcome.failure


def test_a_decompression_bomb_header_is_refused():
    # A PNG header claiming 20000 x 20000 pixels: refused from the header, never decoded.
    outcome = rewardkit.call(grounding_iou, sample_with_image(boxes(QWEN), {"boxes": json.dumps([GOLD])},
                                                              png_claiming(20000, 20000)))
    assert outcome.score is None and outcome.failure.code == "MEDIA_TOO_LARGE", outcome.failure


def test_no_size_needed_no_image_read():
    # 0-1000 on both sides: the image is never opened (its bytes are not even an image).
    outcome = rewardkit.call(grounding_iou, sample_with_image(
        boxes(QWEN), {"boxes": json.dumps([QWEN]), "box_format": "xyxy_1000"}, b"never read"))
    assert outcome.score is not None and outcome.score.value == 1.0


# ---- point_in_box -----------------------------------------------------------------

TARGET = {"bbox": GOLD, "action": "click"}


@pytest.mark.parametrize("response, point_format, expected", [
    ("<answer>[{'action': 'click', 'point': [300, 240]}]</answer>", "xy_pixels", 1.0),       # GUI-R1
    ("<answer>[{'action': 'click', 'coordinate': [300, 240]}]</answer>", "xy_pixels", 1.0),  # UI-R1
    ("<answer>[{'action': 'scroll', 'point': [300, 240]}]</answer>", "xy_pixels", 0.0),
    ("click(point='300,240')", "xy_pixels", 1.0),
    ("I click at (300, 240).", "xy_pixels", 1.0),
    ("tap(x=300, y=240)", "xy_pixels", 1.0),
    ('[{"point": [300, 300], "label": "button"}]', "gemini", 1.0),                         # [y, x] on 0-1000
    ('[{"point": [300, 600], "label": "button"}]', "gemini", 0.0),
    ('{"point_2d": [302, 242]}', "qwen2.5", 1.0),                                           # 1008x812 grid
    ('{"point_2d": [300, 240]}', "xy_pixels", 1.0),
    ('{"point_2d": [1300, 240]}', "xy_pixels", 0.0),                                        # past the edge
])
def test_point_conventions(response, point_format, expected):
    assert point_in_box(response, TARGET, IMG, point_format=point_format).value == expected


def test_radius_option_and_action_matching_switch():
    near = '{"point_2d": [360, 310]}'  # (360, 248) px: 12.8 px from (350, 240)
    assert point_in_box(near, {"point": [350, 240]}, IMG, radius=20).value == 1.0
    assert point_in_box(near, {"point": [350, 240]}, IMG, radius=10).value == 0.0
    typed = '{"action": "type", "point_2d": [300, 300]}'
    assert point_in_box(typed, TARGET, IMG).value == 0.0
    assert point_in_box(typed, TARGET, IMG, match_action=False).value == 1.0


@pytest.mark.parametrize("flood", [
    "[" * 50_000, "{" * 40_000 + "}", "[1, " * 12_000, "'" + "[" * 40_000, "[{'a': [" * 6_000,
    "(1, 2) " * 7_000, "<point>1 2</point>" * 2_000,
])
def test_hostile_answers_are_read_quickly(flood):
    import time

    # CPU time of this process (about 0.15 s here): the machine's other load does not count against it.
    start = time.process_time()
    assert grounding(flood, box_format="xyxy_pixels").value == 0.0
    assert point_in_box(flood, TARGET, IMG, point_format="xy_pixels").value == 0.0
    assert time.process_time() - start < 1.5


def test_no_eval_of_model_text(tmp_path):
    marker = tmp_path / "ran"
    payload = f"__import__('pathlib').Path({str(marker)!r}).write_text('x')"
    for response in (payload, f"[{payload}]", f"<answer>[{{'point': {payload}}}]</answer>", f"click(point={payload})"):
        point_in_box(response, TARGET, IMG, point_format="xy_pixels")
        grounding(response, box_format="xyxy_pixels")
    assert not marker.exists()
