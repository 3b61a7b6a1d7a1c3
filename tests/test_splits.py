"""The deterministic, category-stratified dev/test split and the task selections of `bench`."""

from __future__ import annotations

import json
import random
from collections import Counter
from importlib import resources

import pytest

from environments import Task
from planner.errors import PlannerError
from planner.splits import example_task_ids, select_tasks, split_tasks

ENV = "virtualhome"


@pytest.fixture(scope="module")
def tasks(env) -> list[Task]:
    return env.tasks()


@pytest.fixture(scope="module")
def splits(tasks) -> dict[str, list[str]]:
    return split_tasks(tasks, ENV)


def shipped_examples() -> set[str]:
    text = resources.files("prompts").joinpath(ENV, "examples.json").read_text("utf-8")
    return set(json.loads(text)["tasks"])


def test_the_example_tasks_are_the_ones_the_prompts_ship():
    examples = example_task_ids(ENV)

    assert examples == shipped_examples()
    assert len(examples) == 4
    assert example_task_ids("no-such-environment") == frozenset()


def test_the_split_is_deterministic_whatever_the_task_order(tasks, splits):
    shuffled = list(tasks)
    random.Random(7).shuffle(shuffled)

    assert split_tasks(tasks, ENV) == splits
    again = split_tasks(shuffled, ENV)
    assert sorted(again["dev"]) == sorted(splits["dev"])
    assert sorted(again["test"]) == sorted(splits["test"])


def test_dev_and_test_are_disjoint_and_cover_every_task_but_the_examples(tasks, splits):
    dev, test = set(splits["dev"]), set(splits["test"])
    everything = {t.id for t in tasks}
    examples = example_task_ids(ENV)

    assert len(dev) == len(splits["dev"]) and len(test) == len(splits["test"])  # no duplicates
    assert dev.isdisjoint(test)
    assert not (dev | test) & examples
    assert dev | test == everything - examples
    assert examples <= everything


def test_every_category_with_two_tasks_is_in_both_splits(tasks, splits):
    category = {t.id: t.category for t in tasks}
    examples = example_task_ids(ENV)
    sizes = Counter(t.category for t in tasks if t.id not in examples)
    dev = {category[i] for i in splits["dev"]}
    test = {category[i] for i in splits["test"]}

    assert dev | test == set(sizes)
    for name, size in sizes.items():
        if size >= 2:
            assert name in dev and name in test, name
        else:
            assert name in dev and name not in test, name


def test_about_a_third_of_each_category_is_dev(tasks, splits):
    category = {t.id: t.category for t in tasks}
    examples = example_task_ids(ENV)
    sizes = Counter(t.category for t in tasks if t.id not in examples)
    in_dev = Counter(category[i] for i in splits["dev"])

    for name, size in sizes.items():
        assert in_dev[name] == (size + 2) // 3, name  # positions 0, 3, 6, ...


def test_within_a_category_tasks_are_ordered_numerically():
    def task(task_id: str) -> Task:
        return Task(id=task_id, title="t", description="d", category="c")

    ids = ["100_1", "9_1", "27_2", "27_10", "3_1", "1000_1"]
    result = split_tasks([task(i) for i in ids], "no-such-environment")

    # Sorted: 3_1, 9_1, 27_2, 27_10, 100_1, 1000_1 -> dev at positions 0 and 3.
    assert result == {"dev": ["3_1", "27_10"], "test": ["9_1", "27_2", "100_1", "1000_1"]}


def test_select_all_dev_and_test(tasks, splits):
    assert select_tasks("all", tasks, ENV) == [t.id for t in tasks]
    assert select_tasks("dev", tasks, ENV) == splits["dev"]
    assert select_tasks("test", tasks, ENV) == splits["test"]


def test_select_the_first_n_of_a_split(tasks, splits):
    assert select_tasks("dev:5", tasks, ENV) == splits["dev"][:5]
    assert len(select_tasks("dev:5", tasks, ENV)) == 5
    assert select_tasks("test:3", tasks, ENV) == splits["test"][:3]
    assert select_tasks("all:2", tasks, ENV) == [t.id for t in tasks[:2]]
    assert select_tasks("dev:100000", tasks, ENV) == splits["dev"]
    assert select_tasks("dev:0", tasks, ENV) == []


def test_select_a_list_of_ids(tasks):
    assert select_tasks("27_2", tasks, ENV) == ["27_2"]
    assert select_tasks("27_2, 311_1,", tasks, ENV) == ["27_2", "311_1"]


@pytest.mark.parametrize("spec", ["27_2,nope_1", "nope", "dev2", "foo:3"])
def test_unknown_ids_are_an_error(tasks, spec):
    with pytest.raises(PlannerError, match="unknown task"):
        select_tasks(spec, tasks, ENV)


@pytest.mark.parametrize("spec", ["dev:x", "test:-1", "all:1.5"])
def test_a_bad_count_is_an_error(tasks, spec):
    with pytest.raises(PlannerError, match="bad task selection"):
        select_tasks(spec, tasks, ENV)
