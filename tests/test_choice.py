"""Reading a choice out of a reply, and the self-consistency vote among options."""

from __future__ import annotations

import pytest
from fakes import ScriptedChatModel, always

from planner.choice import Choice, VoteChooser, option_list, parse_choice
from planner.llm_client import LLMClient

OPTIONS = [
    "[Walk] <basket_for_clothes> (1000)",
    "[Walk] <washing_machine> (1001)",
    "[END] (the task is complete)",
]


@pytest.mark.parametrize(
    ("reply", "index"),
    [
        ("B", 1),
        ("(B)", 1),
        ("Answer: C", 2),
        ("b.", 1),
        (" c", 2),
        ("B) [Walk] <washing_machine> (1001)", 1),
        ("The answer is B", 1),
        ("Option C", 2),
    ],
)
def test_a_reply_naming_a_letter_picks_that_option(reply, index):
    assert parse_choice(reply, OPTIONS) == index


def test_a_reply_quoting_an_options_text_picks_that_option():
    assert parse_choice("I would [Walk] <washing_machine> (1001) now", OPTIONS) == 1


@pytest.mark.parametrize("reply", ["no idea", "?", "", "..."])
def test_a_reply_naming_no_option_is_none(reply):
    assert parse_choice(reply, OPTIONS) is None


@pytest.mark.parametrize("reply", ["E", "(D)", "Answer: F"])
def test_a_letter_beyond_the_options_is_none(reply):
    assert parse_choice(reply, OPTIONS) is None


def test_a_reply_starting_with_the_article_a_is_not_option_a():
    assert parse_choice("a good choice is C", OPTIONS) == 2


def test_a_reply_starting_with_the_pronoun_i_still_names_its_letter():
    assert parse_choice("I choose B", OPTIONS) == 1


def test_options_are_listed_with_letters():
    assert option_list(OPTIONS[:2]) == (
        "A. [Walk] <basket_for_clothes> (1000)\nB. [Walk] <washing_machine> (1001)"
    )


def chooser(*replies: str, votes: int) -> tuple[VoteChooser, ScriptedChatModel]:
    fake = ScriptedChatModel(respond=always(*replies))
    return VoteChooser(LLMClient(fake), votes=votes), fake


def choose(vote: VoteChooser) -> Choice:
    return vote.choose("Which step should come next?", OPTIONS, phase="deciding", node=4, seed=0)


def test_the_majority_letter_wins_the_vote():
    vote, fake = chooser("B", "A", "B", votes=3)

    choice = choose(vote)

    assert (choice.index, choice.votes, choice.fallback) == (1, (1, 0, 1), False)
    assert len(fake.calls) == 1
    assert fake.calls[0].n == 3


def test_a_tie_goes_to_the_lower_index_which_more_plans_share():
    vote, _ = chooser("C", "B", "B", "C", votes=4)

    assert choose(vote).index == 1


def test_votes_are_sampled_at_the_voting_temperature_with_short_one_line_answers():
    vote, fake = chooser("A", votes=2)
    vote.temperature = 0.7

    choose(vote)

    call = fake.calls[0]
    assert (call.kwargs["temperature"], call.kwargs["max_tokens"], call.stop) == (0.7, 8, ["\n"])


def test_unparseable_votes_are_ignored_and_counted_when_others_are_valid():
    vote, fake = chooser("C", "hmm", "C", votes=3)

    choice = choose(vote)

    assert (choice.index, choice.invalid_replies, choice.fallback) == (2, 1, False)
    assert len(fake.calls) == 1


def test_a_round_with_no_valid_vote_is_retried_once_with_another_seed():
    vote, fake = chooser("hmm", "hmm", "B", "B", votes=2)

    choice = choose(vote)

    assert (choice.index, choice.invalid_replies, choice.fallback) == (1, 2, False)
    assert [c.seed for c in fake.calls] == [0, 1000]


def test_two_rounds_without_a_valid_vote_fall_back_to_the_most_supported_option():
    vote, fake = chooser("hmm", votes=3)

    choice = choose(vote)

    assert choice == Choice(0, "vote", invalid_replies=6, fallback=True, votes=())
    assert len(fake.calls) == 2
