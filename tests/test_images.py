"""Every kind of file a catalogue folder can hold, read or refused with the file named."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from fcn_lib.images import BadImage, list_images, load_photo


def _photo(size=(40, 30)):
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)


def test_rgb_jpeg_and_png_read_as_uint8_rgb(tmp_path):
    pixels = _photo()
    Image.fromarray(pixels).save(tmp_path / "a.png")
    photo = load_photo(tmp_path / "a.png")
    assert photo.rgb.dtype == np.uint8 and np.array_equal(photo.rgb, pixels) and photo.alpha is None


def test_grayscale_becomes_three_equal_channels(tmp_path):
    Image.fromarray(_photo()[..., 0]).save(tmp_path / "g.png")
    rgb = load_photo(tmp_path / "g.png").rgb
    assert rgb.shape == (30, 40, 3) and np.array_equal(rgb[..., 0], rgb[..., 2])


def test_rgba_keeps_its_alpha_and_shows_transparency_as_white(tmp_path):
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[..., :3] = 10  # dark colour everywhere, even where transparent
    rgba[10:20, 10:30, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cut.png")
    photo = load_photo(tmp_path / "cut.png")
    assert photo.alpha is not None and (photo.alpha[10:20, 10:30] == 255).all()
    assert (photo.rgb[0, 0] == 255).all() and (photo.rgb[15, 15] == 10).all()


def test_palette_with_transparency_and_opaque_rgba(tmp_path):
    image = Image.new("P", (32, 32), 0)
    image.putpalette([255, 255, 255, 200, 0, 0] + [0] * 762)
    image.paste(1, (8, 8, 24, 24))
    image.save(tmp_path / "p.png", transparency=0)
    photo = load_photo(tmp_path / "p.png")
    assert photo.alpha is not None and photo.alpha[0, 0] == 0 and photo.alpha[16, 16] == 255
    Image.new("RGBA", (32, 32), (5, 6, 7, 255)).save(tmp_path / "opaque.png")
    assert load_photo(tmp_path / "opaque.png").alpha is None


def test_cmyk_jpeg_reads_as_rgb(tmp_path):
    Image.new("CMYK", (32, 32), (0, 0, 0, 0)).save(tmp_path / "c.jpg")
    rgb = load_photo(tmp_path / "c.jpg").rgb
    assert rgb.shape == (32, 32, 3) and rgb.mean() > 240  # no ink is white


def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    ramp = (np.arange(64, dtype=np.uint16)[None, :] * 1000).repeat(20, axis=0)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    rgb = load_photo(tmp_path / "deep.png").rgb
    assert rgb[0, 0, 0] == 0 and 240 <= rgb[0, -1, 0] <= 255 and rgb[0, 32, 0] == round(32000 / 65535 * 255)


def test_exif_rotation_is_applied(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to view
    Image.fromarray(pixels).save(tmp_path / "phone.jpg", exif=exif)
    rgb = load_photo(tmp_path / "phone.jpg").rgb
    assert rgb.shape[:2] == (40, 20)
    assert rgb[:20].mean() > 200 and rgb[20:].mean() < 50  # the white half is now on top


@pytest.mark.parametrize("name, content, problem", [
    ("notes.jpg", b"shopping list: laces", "not an image"),
    ("empty.png", b"", "not an image"),
])
def test_non_images_are_refused_by_name(tmp_path, name, content, problem):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(BadImage, match=rf"{name}: {problem}"):
        load_photo(tmp_path / name)


def test_truncated_file_is_refused_by_name(tmp_path):
    Image.fromarray(_photo((200, 200))).save(tmp_path / "full.jpg", quality=95)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadImage, match=r"cut\.jpg: corrupt or truncated"):
        load_photo(tmp_path / "cut.jpg")


def _png_header(width: int, height: int) -> bytes:
    """A 1-bit PNG that claims width x height and holds one compressed row: what a bomb looks like."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * (width // 8 + 1))) + chunk(b"IEND", b""))


def test_tiny_images_and_bombs_are_refused_by_name_before_decoding(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "tiny.png")
    with pytest.raises(BadImage, match=r"tiny\.png: 8x8 is too small"):
        load_photo(tmp_path / "tiny.png")
    Image.new("1", (8000, 7000)).save(tmp_path / "big.png")  # 56 MP in a few kB
    with pytest.raises(BadImage, match=r"big\.png: 8000x7000 is 56,000,000 pixels in [\d,]+ bytes.*bomb"):
        load_photo(tmp_path / "big.png")
    (tmp_path / "huge.png").write_bytes(_png_header(30000, 30000))  # 900 MP, past Pillow's own limit
    with pytest.raises(BadImage, match=r"huge\.png: 30000x30000 is 900,000,000 pixels.*bomb"):
        load_photo(tmp_path / "huge.png")


def test_a_108_megapixel_phone_photo_is_decoded_at_half_size(tmp_path):
    ramp = np.linspace(0, 255, 12000, dtype=np.float32).astype(np.uint8)
    pixels = np.broadcast_to(ramp[None, :, None], (9000, 12000, 3))
    Image.fromarray(np.ascontiguousarray(pixels)).save(tmp_path / "phone.jpg", quality=85)
    photo = load_photo(tmp_path / "phone.jpg")
    assert photo.reduction == 2 and photo.rgb.shape == (4500, 6000, 3)
    assert abs(int(photo.rgb[0, 3000, 0]) - int(ramp[6000])) <= 3  # the same picture, smaller


@pytest.mark.parametrize("mode, suffix", [("RGB", ".jpg"), ("RGB", ".png"), ("P", ".png"), ("1", ".png"),
                                          ("I;16", ".png")])
def test_photos_above_the_limit_shrink_by_the_smallest_factor_that_fits(tmp_path, mode, suffix):
    noise = np.random.default_rng(0).integers(0, 255, (120, 200, 3), dtype=np.uint8)
    image = Image.fromarray(noise)
    image = {"P": image.quantize(16), "1": image.convert("1"), "I;16": image.convert("I;16")}.get(mode, image)
    image.save(tmp_path / f"photo{suffix}")
    assert load_photo(tmp_path / f"photo{suffix}", max_pixels=24_000).rgb.shape == (120, 200, 3)
    for limit, factor in [(23_999, 2), (6_000, 2), (5_999, 4), (1_000, 8)]:
        photo = load_photo(tmp_path / f"photo{suffix}", max_pixels=limit)
        assert photo.reduction == factor and photo.rgb.shape == (-(-120 // factor), -(-200 // factor), 3)
    with pytest.raises(BadImage, match=r"photo\..*: 200x120 is too large"):
        load_photo(tmp_path / f"photo{suffix}", max_pixels=300)


def test_a_reduced_photo_is_still_turned_upright(tmp_path):
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 200, 3), dtype=np.uint8))
    exif = image.getexif()
    exif[0x0112] = 6  # stored sideways: shown rotated by 90 degrees
    image.save(tmp_path / "sideways.jpg", exif=exif)
    assert load_photo(tmp_path / "sideways.jpg", max_pixels=6_000).rgb.shape == (100, 60, 3)


def test_a_broken_link_is_listed_and_refused_by_name(tmp_path):
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    assert [p.name for p in list_images(tmp_path)] == ["gone.jpg"]
    with pytest.raises(BadImage, match=r"gone\.jpg: broken link \(it points to .*nowhere\.jpg"):
        load_photo(tmp_path / "gone.jpg")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(BadImage, match="no such file"):
        load_photo(tmp_path / "gone.jpg")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        list_images(tmp_path / "nowhere")


def test_listing_is_sorted_and_skips_non_image_suffixes(tmp_path):
    for name in ["b.JPG", "a.png", "readme.txt", "c.webp"]:
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["a.png", "b.JPG", "c.webp"]
