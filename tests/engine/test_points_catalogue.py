"""The shop's catalogue from TOML (engine.points_catalogue): the shipped items, a file's items, bad files refused by
key and line, and seeding that adds only what the book does not hold."""

from __future__ import annotations

import pytest

from engine.errors import ConfigError
from engine.points import PointsBook
from engine.points_catalogue import catalogue_from_text, load_catalogue, seed
from engine.points_rules import load_points_rule_set
from protocols.points import ItemCategory


def test_the_shipped_catalogue_has_coupons_phone_credit_and_goods_with_stock():
    items = load_catalogue()
    assert {i.category for i in items} == set(ItemCategory)
    assert all(i.price > 0 and i.stock > 0 for i in items)


def test_a_points_file_with_a_shop_still_gives_its_rules(tmp_path):
    path = tmp_path / "points.toml"
    path.write_text('tip_accepted = 30\n\n[[shop.items]]\nid = "cap"\nname = "Cap"\ncategory = "goods"\nprice = 5\n',
                    encoding="utf-8")
    assert load_points_rule_set(path).tip_accepted == 30
    (cap,) = load_catalogue(path)
    assert (cap.id, cap.category, cap.price, cap.stock) == ("cap", ItemCategory.GOODS, 5, 0)


@pytest.mark.parametrize("body, words", [
    ('[[shop.items]]\nid = "a"\nname = "A"\ncategory = "food"\nprice = 5\n', "category"),
    ('[[shop.items]]\nid = "a"\nname = "A"\ncategory = "goods"\nprice = 0\n', "price"),
    ('[[shop.items]]\nid = "a"\nname = "A"\ncategory = "goods"\nprice = 5\nstock = -1\n', "stock"),
    ('[[shop.items]]\nid = "a"\nname = "A"\ncategory = "goods"\nprice = 5\ncolour = "red"\n', "colour"),
    ('[[shop.items]]\nid = "a"\nname = "A"\ncategory = "goods"\nprice = 5\n' * 2, "listed twice"),
])
def test_a_bad_catalogue_is_refused_naming_the_key(body, words):
    with pytest.raises(ConfigError, match=words):
        catalogue_from_text(body, file="shop.toml")


def test_seeding_adds_only_the_items_the_book_does_not_hold():
    book = PointsBook()
    items = load_catalogue()
    rows = seed(book, items, t_s=0.0)
    assert len(rows) == 2 * len(items) and book.stock() == {i.id: i.stock for i in items}
    book.restock(items[0].id, -1, t_s=1.0)
    assert seed(book, items, t_s=2.0) == [] and book.stock()[items[0].id] == items[0].stock - 1
