"""Every kind of file a catalogue folder can hold, read or refused with the file named."""

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


def test_tiny_and_huge_images_are_refused_before_decoding(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "tiny.png")
    with pytest.raises(BadImage, match=r"tiny\.png: 8x8 is too small"):
        load_photo(tmp_path / "tiny.png")
    Image.new("1", (8000, 7000)).save(tmp_path / "big.png")  # 56 MP, a few kB on disk
    with pytest.raises(BadImage, match=r"big\.png: 8000x7000 is too large"):
        load_photo(tmp_path / "big.png")
    Image.new("1", (12000, 9000)).save(tmp_path / "bomb.png")  # past Pillow's own bomb limit
    with pytest.raises(BadImage, match=r"bomb\.png: .*too large"):
        load_photo(tmp_path / "bomb.png")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(BadImage, match="no such file"):
        load_photo(tmp_path / "gone.jpg")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        list_images(tmp_path / "nowhere")


def test_listing_is_sorted_and_skips_non_image_suffixes(tmp_path):
    for name in ["b.JPG", "a.png", "readme.txt", "c.webp"]:
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["a.png", "b.JPG", "c.webp"]
