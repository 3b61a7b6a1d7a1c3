"""Grounding written objects to scene objects, rule by rule (see planner/grounding.py)."""

from __future__ import annotations

import pytest
from helpers import fresh_env

from planner.grounding import ObjectGrounder
from skills import ObjectRef, Step


@pytest.fixture(scope="module")
def grounder() -> ObjectGrounder:
    """The grounder of task 27_2's scene with VirtualHome's class-name synonyms."""
    env = fresh_env()
    return ObjectGrounder(env.objects(), env.synonyms())


def ground(grounder: ObjectGrounder, name: str, id: int | None = None) -> ObjectRef | None:
    return grounder.ground(ObjectRef(name, id))


def test_an_exact_name_and_id_is_that_object(grounder):
    assert ground(grounder, "soap", 1002) == ObjectRef("soap", 1002)


def test_a_name_is_normalised_before_it_is_looked_up(grounder):
    assert ground(grounder, "Washing Machine", 1001) == ObjectRef("washing_machine", 1001)


def test_a_wrong_id_with_a_right_name_goes_to_the_object_of_that_name():
    grounder = ObjectGrounder([ObjectRef("soap", 1002), ObjectRef("cup", 1003)])

    assert ground(grounder, "soap", 1003) == ObjectRef("soap", 1002)


def test_of_several_objects_with_the_name_the_one_nearest_the_written_id_is_taken(grounder):
    # the scene has basket_for_clothes 1000 and 2000
    assert ground(grounder, "basket_for_clothes", 1800) == ObjectRef("basket_for_clothes", 2000)
    assert ground(grounder, "basket_for_clothes", 1200) == ObjectRef("basket_for_clothes", 1000)


def test_a_name_without_an_id_is_the_lowest_id_of_that_name(grounder):
    assert ground(grounder, "basket_for_clothes") == ObjectRef("basket_for_clothes", 1000)


def test_a_synonym_grounds_to_the_scene_object_of_the_equivalent_name():
    # VirtualHome's class_name_equivalence.json says: television -> [tv, walltv]
    grounder = ObjectGrounder([ObjectRef("tv", 5)], {"television": ["tv", "walltv"]})

    assert ground(grounder, "television") == ObjectRef("tv", 5)


def test_the_television_of_the_scene_is_found_when_written_tv_with_its_id(grounder):
    assert ground(grounder, "tv", 248) == ObjectRef("television", 248)


@pytest.mark.parametrize(
    ("written", "scene"),
    [
        ("tv", ObjectRef("television", 248)),
        ("sofa", ObjectRef("couch", 352)),
        ("fridge", ObjectRef("freezer", 289)),
        ("kitchen", ObjectRef("dining_room", 201)),
    ],
)
def test_a_synonym_without_an_id_grounds_to_the_scene_name(grounder, written, scene):
    assert ground(grounder, written) == scene


def test_an_unknown_name_with_a_valid_id_is_the_object_with_that_id(grounder):
    assert ground(grounder, "cleaning_liquid", 1002) == ObjectRef("soap", 1002)


def test_a_similar_name_grounds_to_the_most_similar_scene_name(grounder):
    assert ground(grounder, "washingmachine") == ObjectRef("washing_machine", 1001)
    assert ground(grounder, "washing_machin", 1001) == ObjectRef("washing_machine", 1001)


def test_a_hopeless_name_with_no_valid_id_cannot_be_grounded(grounder):
    assert ground(grounder, "xyzzy") is None
    assert ground(grounder, "quantum_flux", 99999) is None


def test_a_step_is_grounded_argument_by_argument(grounder):
    step = Step("PutBack", (ObjectRef("soap", 7), ObjectRef("washing machine")))

    assert grounder.ground_step(step) == Step(
        "PutBack", (ObjectRef("soap", 1002), ObjectRef("washing_machine", 1001))
    )


def test_a_step_with_one_ungroundable_argument_is_none(grounder):
    step = Step("PutBack", (ObjectRef("soap", 1002), ObjectRef("xyzzy")))

    assert grounder.ground_step(step) is None
