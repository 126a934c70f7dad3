"""Tests for comfycontrol_async.placeholders: the grammar of the API documentation, rule by rule."""

from __future__ import annotations

import pickle
import re
import string
from collections.abc import Mapping
from enum import Enum, IntEnum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comfycontrol_async.placeholders import (
    MAX_NAME_LENGTH,
    ParamValue,
    Placeholder,
    PlaceholderError,
    PlaceholderList,
    file_fields,
    is_valid_file_name,
    parse_placeholder,
    scan_placeholders,
    validate_params,
)

# The two published examples, as in examples/concepts-template-*.json of the API docs.
TEXT_TEMPLATE: dict[str, Any] = {
    "6": {
        "inputs": {
            "text": "$text(prompt)",
            "negative_prompt": "$text(negative)",
            "steps": "$text(num_steps)",
        }
    }
}
FILE_TEMPLATE: dict[str, Any] = {
    "10": {"inputs": {"image": "$file(input_image)", "mask": "$file(mask_image)"}}
}

NAME_ALPHABET = string.ascii_letters + string.digits + "-_"
deterministic = settings(derandomize=True, database=None, max_examples=200, deadline=None)


def problems_of(
    workflow: Mapping[str, Any] | list[Any],
    params: Mapping[str, Any] | None = None,
    files: Mapping[str, Any] | None = None,
) -> list[str]:
    with pytest.raises(PlaceholderError) as info:
        validate_params(workflow, params=params, files=files)
    return info.value.problems


def node(**inputs: Any) -> dict[str, Any]:
    return {"1": {"class_type": "Node", "inputs": inputs}}


# --- the published examples -------------------------------------------------------------------


def test_text_example_scans_to_three_required_texts() -> None:
    found = scan_placeholders(TEXT_TEMPLATE)
    assert [(p.kind, p.name, p.required, p.form_field) for p in found] == [
        ("text", "prompt", True, "$prompt"),
        ("text", "negative", True, "$negative"),
        ("text", "num_steps", True, "$num_steps"),
    ]
    assert found[0].path == ("6", "inputs", "text")
    assert found[0].raw == "$text(prompt)"
    assert found.problems == []


def test_text_example_validates() -> None:
    fields = validate_params(
        TEXT_TEMPLATE,
        params={"num_steps": 30, "prompt": "A sunset", "negative": "blurry"},
    )
    # Document order, not the order of params.
    assert list(fields.items()) == [
        ("$prompt", "A sunset"),
        ("$negative", "blurry"),
        ("$num_steps", "30"),
    ]


def test_file_example_scans_and_validates() -> None:
    found = scan_placeholders(FILE_TEMPLATE)
    assert [(p.kind, p.name, p.form_field, p.path) for p in found] == [
        ("file", "input_image", "$input_image", ("10", "inputs", "image")),
        ("file", "mask_image", "$mask_image", ("10", "inputs", "mask")),
    ]
    assert all(p.required for p in found)
    files = {"input_image": b"png", "$mask_image": "mask.png"}
    assert validate_params(FILE_TEMPLATE, files=files) == {}
    assert file_fields(files) == {"$input_image": b"png", "$mask_image": "mask.png"}


def test_file_example_missing_uploads() -> None:
    problems = problems_of(FILE_TEMPLATE, files={"mask_image": b""})
    assert problems == [
        "missing required file 'input_image' ('$file(input_image)' at /10/inputs/image)"
    ]


# --- where placeholders may be ----------------------------------------------------------------


def test_nested_lists_and_dicts_in_document_order() -> None:
    workflow = {
        "1": {"inputs": {"list": ["plain", ["$text(deep)", {"k": "$file(img)"}]]}},
        "2": {"inputs": {"seed": "$random()", "when": "$timestamp()"}},
    }
    found = scan_placeholders(workflow)
    assert [(p.raw, p.path) for p in found] == [
        ("$text(deep)", ("1", "inputs", "list", 1, 0)),
        ("$file(img)", ("1", "inputs", "list", 1, 1, "k")),
        ("$random()", ("2", "inputs", "seed")),
        ("$timestamp()", ("2", "inputs", "when")),
    ]


def test_top_level_list_and_tuples() -> None:
    found = scan_placeholders(["$text(a)", ("$text(b)",)])
    assert [(p.name, p.path) for p in found] == [("a", (0,)), ("b", (1, 0))]


def test_keys_and_non_strings_are_not_scanned() -> None:
    workflow = {"$text(key)": 1, "n": 5, "f": 1.5, "b": True, "z": None, "raw": b"$text(x)"}
    assert scan_placeholders(workflow) == []


def test_empty_workflow() -> None:
    empties: list[dict[str, Any] | list[Any]] = [{}, [], {"1": {"inputs": {}}}]
    for empty in empties:
        assert scan_placeholders(empty) == []
        assert scan_placeholders(empty).problems == []
        assert validate_params(empty) == {}
        assert validate_params(empty, params={}, files={}) == {}


def test_shared_and_cyclic_containers_are_walked_once() -> None:
    shared = {"text": "$text(p)"}
    cyclic: dict[str, Any] = {"a": shared, "b": shared}
    cyclic["self"] = cyclic
    found = scan_placeholders(cyclic)
    assert [(p.name, p.path) for p in found] == [("p", ("a", "text"))]
    shared_list = ["$text(q)"]
    found = scan_placeholders({"a": shared_list, "b": [shared_list, shared_list]})
    assert [(p.name, p.path) for p in found] == [("q", ("a", 0))]


def test_keys_that_are_not_str_or_int_become_text_in_paths() -> None:
    workflow: dict[Any, Any] = {1.5: {(2, 3): "$text(x)"}, 7: "$file(f)"}
    found = scan_placeholders(workflow)
    assert [p.path for p in found] == [("1.5", "(2, 3)"), (7,)]


def test_deep_nesting_does_not_hit_the_recursion_limit() -> None:
    workflow: Any = "$text(bottom)"
    for _ in range(5000):
        workflow = [workflow]
    assert [p.name for p in scan_placeholders({"root": workflow})] == ["bottom"]


def test_a_string_is_not_a_workflow() -> None:
    with pytest.raises(TypeError, match="mapping or a sequence"):
        scan_placeholders("$text(prompt)")
    with pytest.raises(TypeError):
        validate_params(42)  # type: ignore[arg-type]


# --- whole-string only --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "prefix_$random()",
        "seed is $text(x)",
        "$random()_suffix",
        "$text(x) and more text",
        " $text(x)",
        "$text(x) ",
        "\n$random()\n",
        "$text(x",
        "$random(",
        "$Text(x)",
        "$TEXT(x)",
        "$texts(x)",
        "$unknown(x)",
        "text(x)",
        "$text",
        "$random",
        "#choice(s, a, b)",
        "",
        "$",
    ],
)
def test_not_whole_string_placeholders_are_ordinary_text(value: str) -> None:
    found = scan_placeholders(node(v=value))
    assert found == []
    assert found.problems == []
    assert parse_placeholder(value) is None


def test_whitespace_around_arguments_is_ignored() -> None:
    for raw in ("$choice(s,a,b)", "$choice(s, a, b)", "$choice( s , a ,b )"):
        choice = parse_placeholder(raw)
        assert choice is not None
        assert (choice.name, choice.options, choice.raw) == ("s", ("a", "b"), raw)
    text = parse_placeholder("$text( p ,   hello  world )")
    assert text is not None
    assert (text.name, text.default) == ("p", "hello  world")
    assert parse_placeholder("$file( img )") == Placeholder("file", "img", raw="$file( img )")
    assert parse_placeholder("$random( )") == Placeholder("random", raw="$random( )")


def test_text_and_choice_names_are_free_form() -> None:
    workflow = node(t="$text(my prompt)", c="$choice(sampler.name, a, b)")
    found = scan_placeholders(workflow)
    assert found.problems == []
    assert [p.form_field for p in found] == ["$my prompt", "#sampler.name"]
    assert validate_params(workflow, params={"my prompt": "x", "#sampler.name": "b"}) == {
        "$my prompt": "x",
        "#sampler.name": "b",
    }


def test_a_name_that_starts_like_a_prefix() -> None:
    workflow = node(t="$text($odd)", c="$choice(#odd, a, b)")
    assert validate_params(workflow, params={"$odd": "x", "#odd": "b"}) == {
        "$$odd": "x",
        "##odd": "b",
    }
    assert validate_params(workflow, params={"$$odd": "x", "##odd": "b"}) == {
        "$$odd": "x",
        "##odd": "b",
    }


# --- text ---------------------------------------------------------------------------------------


def test_text_with_and_without_default() -> None:
    found = scan_placeholders(node(a="$text(req)", b="$text(opt, A sunset)", c="$text(empty, )"))
    assert [(p.name, p.default, p.required) for p in found] == [
        ("req", None, True),
        ("opt", "A sunset", False),
        ("empty", "", False),
    ]


def test_text_default_may_hold_commas_and_parentheses() -> None:
    p = parse_placeholder("$text(prompt, (masterpiece:1.2), a cat, a dog)")
    assert p is not None
    assert p.name == "prompt"
    assert p.default == "(masterpiece:1.2), a cat, a dog"


def test_defaults_are_not_sent_when_not_given() -> None:
    workflow = node(a="$text(req)", b="$text(opt, dflt)", c="$choice(s, x, y)")
    assert validate_params(workflow, params={"req": "r"}) == {"$req": "r"}
    assert validate_params(workflow, params={"req": "r", "opt": "o", "s": "y"}) == {
        "$req": "r",
        "$opt": "o",
        "#s": "y",
    }


def test_empty_string_is_a_value() -> None:
    assert validate_params(node(a="$text(req)"), params={"req": ""}) == {"$req": ""}


def test_missing_required_text() -> None:
    assert problems_of(node(a="$text(req)", b="$text(opt, x)")) == [
        "missing required text parameter 'req' ('$text(req)' at /1/inputs/a)"
    ]


def test_text_without_name_is_malformed() -> None:
    for value in ("$text()", "$text(, default)"):
        found = scan_placeholders(node(v=value))
        assert found == []
        assert found.problems == [
            f"malformed placeholder {value!r} at /1/inputs/v: the name is empty"
        ]


# --- choice -------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [2, 3, 4])
def test_choice_with_two_to_four_options(count: int) -> None:
    options = [f"opt{i}" for i in range(count)]
    p = parse_placeholder(f"$choice(sampler, {', '.join(options)})")
    assert p is not None
    assert (p.kind, p.name, p.options, p.default) == ("choice", "sampler", tuple(options), "opt0")
    assert not p.required
    assert p.form_field == "#sampler"
    for option in options:
        workflow = node(s=p.raw)
        assert validate_params(workflow, params={"sampler": option}) == {"#sampler": option}


@pytest.mark.parametrize("count", [0, 1, 5, 6])
def test_choice_with_a_wrong_number_of_options(count: int) -> None:
    raw = "$choice(" + ", ".join(["x"] + [f"o{i}" for i in range(count)]) + ")"
    found = scan_placeholders(node(v=raw))
    assert found == []
    assert found.problems == [
        f"malformed placeholder {raw!r} at /1/inputs/v: a choice needs 2 to 4 options, got {count}"
    ]


def test_choice_with_empty_or_repeated_options() -> None:
    found = scan_placeholders(node(a="$choice(x, a, , b)", b="$choice(y, a, a)"))
    assert found.problems == [
        "malformed placeholder '$choice(x, a, , b)' at /1/inputs/a: option 2 is empty"
    ]
    # A repeated option is allowed: it still counts as an option.
    assert [p.options for p in found] == [("a", "a")]


def test_malformed_choice_reports_every_fault_and_hides_its_name() -> None:
    workflow = node(v="$choice(x, onlyone)")
    found = scan_placeholders(workflow)
    assert found.problems == [
        "malformed placeholder '$choice(x, onlyone)' at /1/inputs/v: a choice needs 2 to 4 "
        "options, got 1"
    ]
    # A value for the name of a malformed placeholder is not called unknown on top of that.
    assert problems_of(workflow, params={"x": "onlyone"}) == found.problems
    assert parse_error("$choice(, a)") == (
        "malformed placeholder '$choice(, a)': the name is empty; a choice needs 2 to 4 "
        "options, got 1"
    )


def parse_error(value: str) -> str:
    with pytest.raises(PlaceholderError) as info:
        parse_placeholder(value)
    assert len(info.value.problems) == 1
    return info.value.problems[0]


def test_choice_value_outside_its_options() -> None:
    workflow = node(s="$choice(sampler, euler, euler_ancestral)")
    assert problems_of(workflow, params={"sampler": "Euler"}) == [
        "parameter 'sampler': 'Euler' is not one of the options of "
        "'$choice(sampler, euler, euler_ancestral)': 'euler', 'euler_ancestral'"
    ]


def test_choice_is_checked_after_conversion_to_text() -> None:
    workflow = node(s="$choice(steps, 7, 20, true)")
    assert validate_params(workflow, params={"steps": 7}) == {"#steps": "7"}
    assert validate_params(workflow, params={"steps": True}) == {"#steps": "true"}
    assert len(problems_of(workflow, params={"steps": 7.0})) == 1


# --- file ---------------------------------------------------------------------------------------


def test_file_name_of_255_characters_is_accepted() -> None:
    name = "a" * MAX_NAME_LENGTH
    assert is_valid_file_name(name)
    workflow = node(img=f"$file({name})")
    found = scan_placeholders(workflow)
    assert [p.name for p in found] == [name]
    assert found.problems == []
    assert validate_params(workflow, files={name: b""}) == {}


def test_file_name_of_256_characters_is_refused() -> None:
    name = "a" * (MAX_NAME_LENGTH + 1)
    assert not is_valid_file_name(name)
    found = scan_placeholders(node(img=f"$file({name})"))
    assert found == []
    assert len(found.problems) == 1
    assert "the name is 256 characters long (at most 255)" in found.problems[0]
    # The message quotes the placeholder, cut short.
    assert len(found.problems[0]) < 250


@pytest.mark.parametrize(
    "name", ["bad name!", "dir/img", "é", "tab\tname", "semi;colon", "a(b)", "a b.png"]
)
def test_file_name_with_bad_characters_is_refused(name: str) -> None:
    assert not is_valid_file_name(name)
    found = scan_placeholders(node(img=f"$file({name})"))
    assert found == []
    assert len(found.problems) == 1
    assert "may only hold letters, digits, '-', '_' and '.'" in found.problems[0]


@pytest.mark.parametrize("name", ["input_image.png", "mask.v2.webp", "a.b-c_d", "x."])
def test_file_name_may_hold_dots_as_the_published_example_does(name: str) -> None:
    # The API documentation's own example is $file(input_image.png): never refuse it.
    assert is_valid_file_name(name)
    found = scan_placeholders(node(img=f"$file({name})"))
    assert found.problems == []
    assert [(p.kind, p.name, p.raw) for p in found] == [("file", name, f"$file({name})")]
    assert validate_params(node(img=f"$file({name})"), files={name: b"png"}) == {}
    assert file_fields({name: b"png"}) == {f"${name}": b"png"}


def test_file_takes_only_a_name() -> None:
    found = scan_placeholders(node(img="$file(img, default.png)", empty="$file()"))
    assert found.problems == [
        "malformed placeholder '$file(img, default.png)' at /1/inputs/img: "
        "$file() takes only a name",
        "malformed placeholder '$file()' at /1/inputs/empty: the name is empty",
    ]


def test_bad_file_name_in_files_argument() -> None:
    problems = problems_of(FILE_TEMPLATE, files={"input_image": 1, "mask_image": 2, "x y": 3})
    assert problems == [
        "invalid file name 'x y' in files=: the name 'x y' may only hold letters, digits, "
        "'-', '_' and '.'"
    ]


def test_file_in_params_and_text_in_files() -> None:
    workflow = node(t="$text(prompt)", f="$file(image)", c="$choice(s, a, b)")
    problems = problems_of(workflow, params={"image": "x.png"}, files={"prompt": b"", "s": b""})
    # Misplaced values are not also reported as missing.
    assert problems == [
        "parameter 'image': 'image' is a file placeholder, give it in files= instead of params=",
        "file 'prompt': 'prompt' is a text placeholder, give it in params= instead of files=",
        "file 's': 's' is a choice placeholder, give it in params= instead of files=",
    ]


def test_files_values_are_opaque() -> None:
    class Anything:
        pass

    assert (
        validate_params(FILE_TEMPLATE, files={"input_image": Anything(), "mask_image": None}) == {}
    )


# --- random and timestamp -----------------------------------------------------------------------


def test_random_and_timestamp_need_nothing() -> None:
    workflow = {
        "1": {"inputs": {"seed": "$random()", "noise": "$random()"}},
        "2": {"inputs": {"t": "$timestamp()", "u": "$timestamp()"}},
    }
    found = scan_placeholders(workflow)
    assert [(p.kind, p.name, p.required, p.form_field, p.path) for p in found] == [
        ("random", None, False, None, ("1", "inputs", "seed")),
        ("timestamp", None, False, None, ("2", "inputs", "t")),
    ]
    assert validate_params(workflow) == {}


def test_random_and_timestamp_take_no_arguments() -> None:
    found = scan_placeholders(node(a="$random(1)", b="$timestamp(ms)"))
    assert found.problems == [
        "malformed placeholder '$random(1)' at /1/inputs/a: $random() takes no arguments",
        "malformed placeholder '$timestamp(ms)' at /1/inputs/b: $timestamp() takes no arguments",
    ]


def test_random_is_not_a_parameter_name() -> None:
    assert problems_of(node(seed="$random()"), params={"random": 1}) == [
        "unknown parameter 'random': the workflow has no placeholder named 'random' "
        "(it has no named placeholders)"
    ]


# --- repeats and conflicts ----------------------------------------------------------------------


def test_the_same_placeholder_twice_is_one_parameter() -> None:
    workflow = {
        "3": {"inputs": {"text": "$text(prompt)"}},
        "4": {"inputs": {"text": "$text(prompt)", "img": ["$file(img)", "$file(img)"]}},
        "5": {"inputs": {"s": "$choice(s, a, b)", "t": "$choice(s,a,b)"}},
    }
    found = scan_placeholders(workflow)
    assert [(p.kind, p.name, p.path) for p in found] == [
        ("text", "prompt", ("3", "inputs", "text")),
        ("file", "img", ("4", "inputs", "img", 0)),
        ("choice", "s", ("5", "inputs", "s")),
    ]
    assert found.problems == []
    assert validate_params(workflow, params={"prompt": "p", "s": "b"}, files={"img": b""}) == {
        "$prompt": "p",
        "#s": "b",
    }


def test_conflicting_kinds() -> None:
    workflow = {
        "1": {"inputs": {"a": "$text(x)", "b": "$choice(x, p, q)", "c": "$file(x)"}},
    }
    found = scan_placeholders(workflow)
    # One entry per distinct (kind, name), and one problem per differing definition.
    assert [(p.kind, p.name) for p in found] == [("text", "x"), ("choice", "x"), ("file", "x")]
    assert found.problems == [
        "conflicting definitions of 'x': '$text(x)' at /1/inputs/a and '$choice(x, p, q)' at "
        "/1/inputs/b",
        "conflicting definitions of 'x': '$text(x)' at /1/inputs/a and '$file(x)' at /1/inputs/c",
    ]
    # Values for a conflicting name are not checked further, and it is not reported missing.
    assert problems_of(workflow, params={"x": "anything"}) == found.problems
    assert problems_of(workflow, files={"$x": b""}) == found.problems
    assert problems_of(workflow) == found.problems


def test_conflicting_choice_options_and_text_defaults() -> None:
    workflow = [
        "$choice(s, a, b)",
        "$choice(s, b, a)",  # other order, other default: a conflict
        "$choice(s, a, b)",
        "$text(t)",
        "$text(t, d)",
        "$text(t, e)",
        "$text(t, d)",  # already reported
    ]
    found = scan_placeholders(workflow)
    assert [p.raw for p in found] == ["$choice(s, a, b)", "$text(t)"]
    assert found.problems == [
        "conflicting definitions of 's': '$choice(s, a, b)' at /0 and '$choice(s, b, a)' at /1",
        "conflicting definitions of 't': '$text(t)' at /3 and '$text(t, d)' at /4",
        "conflicting definitions of 't': '$text(t)' at /3 and '$text(t, e)' at /5",
    ]


def test_conflicts_in_a_list_built_by_hand() -> None:
    placeholders = [Placeholder("text", "x"), Placeholder("text", "x"), Placeholder("file", "x")]
    assert problems_of(placeholders) == [
        "conflicting definitions of 'x': '$text(x)' at the root and '$file(x)' at the root"
    ]


# --- every problem at once ----------------------------------------------------------------------


def test_every_problem_is_listed_at_once() -> None:
    workflow = {
        "1": {
            "inputs": {
                "prompt": "$text(prompt)",
                "neg": "$text(negative, blurry)",
                "sampler": "$choice(sampler, euler, dpmpp_2m)",
                "image": "$file(image)",
                "mask": "$file(mask)",
                "broken": "$choice(x, onlyone)",
                "a": "$text(dup)",
                "b": "$choice(dup, p, q)",
            }
        }
    }
    params: dict[str, Any] = {
        "sampler": "heun",
        "promt": "typo",
        "image": "x.png",
        "$negative": None,
    }
    with pytest.raises(PlaceholderError) as info:
        validate_params(workflow, params=params, files={"prompt": b"", "bad name": b""})
    error = info.value
    assert isinstance(error, ValueError)
    expected = [
        "malformed placeholder '$choice(x, onlyone)' at /1/inputs/broken: a choice needs 2 to 4 "
        "options, got 1",
        "conflicting definitions of 'dup': '$text(dup)' at /1/inputs/a and '$choice(dup, p, q)' "
        "at /1/inputs/b",
        "parameter 'sampler': 'heun' is not one of the options of "
        "'$choice(sampler, euler, dpmpp_2m)': 'euler', 'dpmpp_2m'",
        "unknown parameter 'promt': the workflow has no placeholder named 'promt'; "
        "did you mean 'prompt'?",
        "parameter 'image': 'image' is a file placeholder, give it in files= instead of params=",
        "parameter 'negative': a value must be str, int, float or bool, not NoneType",
        "file 'prompt': 'prompt' is a text placeholder, give it in params= instead of files=",
        "invalid file name 'bad name' in files=: the name 'bad name' may only hold letters, "
        "digits, '-', '_' and '.'",
        "missing required file 'mask' ('$file(mask)' at /1/inputs/mask)",
    ]
    assert error.problems == expected
    assert str(error).splitlines() == [
        "9 placeholder problems:",
        *(f"- {problem}" for problem in expected),
    ]


def test_error_with_one_problem_and_pickling() -> None:
    error = PlaceholderError(["only this"])
    assert str(error) == "1 placeholder problem:\n- only this"
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, PlaceholderError)
    assert copy.problems == ["only this"]
    assert str(copy) == str(error)


# --- keys ---------------------------------------------------------------------------------------


def test_prefixed_keys_are_normalised() -> None:
    workflow = node(t="$text(prompt)", c="$choice(sampler, euler, heun)")
    assert validate_params(workflow, params={"$prompt": "x", "#sampler": "heun"}) == {
        "$prompt": "x",
        "#sampler": "heun",
    }


def test_wrong_prefix() -> None:
    workflow = node(t="$text(prompt)", c="$choice(sampler, euler, heun)")
    assert problems_of(workflow, params={"#prompt": "x", "$sampler": "heun"}) == [
        "parameter '#prompt': 'prompt' is a text placeholder, its form field is '$prompt'",
        "parameter '$sampler': 'sampler' is a choice placeholder, its form field is '#sampler'",
    ]
    assert problems_of(FILE_TEMPLATE, files={"#input_image": b"", "mask_image": b""}) == [
        "file '#input_image': the form field of a file is '$input_image', not '#input_image'"
    ]


def test_same_name_given_twice() -> None:
    workflow = node(t="$text(prompt)", f="$file(img)")
    assert problems_of(
        workflow, params={"prompt": "a", "$prompt": "b"}, files={"img": b"", "$img": b""}
    ) == [
        "'prompt' is given twice, as 'prompt' and as '$prompt'",
        "'img' is given twice, as 'img' and as '$img'",
    ]


def test_non_string_keys() -> None:
    workflow = node(t="$text(prompt, d)")
    params: dict[Any, Any] = {1: "x"}
    files: dict[Any, Any] = {2: b""}
    assert problems_of(workflow, params=params, files=files) == [
        "parameter names must be strings, not 1",
        "file names must be strings, not 2",
    ]


def test_unknown_names() -> None:
    workflow = node(t="$text(prompt)")
    assert problems_of(workflow, params={"prompt": "p", "zzz": 1}, files={"$yyy": b""}) == [
        "unknown parameter 'zzz': the workflow has no placeholder named 'zzz'",
        "unknown file '$yyy': the workflow has no placeholder named 'yyy'",
    ]


# --- value conversion ---------------------------------------------------------------------------


class Colour(str, Enum):  # noqa: UP042 (str() of such a member is not its value)
    RED = "red"


class Steps(IntEnum):
    TWENTY = 20


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("A sunset", "A sunset"),
        ("", ""),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-12, "-12"),
        (2**64 - 1, "18446744073709551615"),
        (0.5, "0.5"),
        (7.0, "7.0"),
        (1e16, "1e+16"),
        (Colour.RED, "red"),
        (Steps.TWENTY, "20"),
    ],
)
def test_value_stringification(value: Any, text: str) -> None:
    assert validate_params(node(t="$text(v)"), params={"v": value}) == {"$v": text}


@pytest.mark.parametrize(
    ("value", "fault"),
    [
        (float("nan"), "nan is not a finite number"),
        (float("inf"), "inf is not a finite number"),
        (None, "not NoneType"),
        (b"bytes", "not bytes"),
        (["a"], "not list"),
        pytest.param(10**5000, "too large", id="huge-int"),
    ],
)
def test_values_that_cannot_be_sent(value: Any, fault: str) -> None:
    problems = problems_of(node(t="$text(v)"), params={"v": value})
    assert len(problems) == 1
    assert problems[0].startswith("parameter 'v': ")
    assert fault in problems[0]


# --- the Placeholder class and the inputs validate_params accepts ------------------------------


def test_placeholder_fills_in_raw_and_choice_default() -> None:
    choice = Placeholder("choice", "s", options=("a", "b"))
    assert choice.default == "a"
    assert choice.raw == "$choice(s, a, b)"
    assert Placeholder("text", "t", "d").raw == "$text(t, d)"
    assert Placeholder("text", "t").raw == "$text(t)"
    assert Placeholder("file", "f").raw == "$file(f)"
    assert Placeholder("random").raw == "$random()"
    assert Placeholder("timestamp").form_field is None


@pytest.mark.parametrize(
    ("kwargs", "fault"),
    [
        ({"kind": "image", "name": "x"}, "the kind must be one of"),
        ({"kind": "text"}, "a name is needed"),
        ({"kind": "file", "name": "bad name"}, "may only hold letters"),
        ({"kind": "text", "name": "a, b"}, "cannot hold a comma"),
        ({"kind": "text", "name": " a"}, "surrounding whitespace"),
        ({"kind": "choice", "name": "s", "options": ("a", "b,c")}, "cannot be written"),
        ({"kind": "choice", "name": "s", "options": ("a", "")}, "option 2 is empty"),
        ({"kind": "random", "name": "x"}, "it takes no name"),
        ({"kind": "choice", "name": "s", "options": ("a",)}, "needs 2 to 4 options"),
        ({"kind": "choice", "name": "s", "options": ("a", "b"), "default": "b"}, "first option"),
        ({"kind": "text", "name": "t", "options": ("a", "b")}, "only a choice has options"),
        ({"kind": "file", "name": "f", "default": "x"}, "only a text or a choice has a default"),
    ],
)
def test_placeholder_refuses_bad_definitions(kwargs: dict[str, Any], fault: str) -> None:
    with pytest.raises(ValueError, match="invalid") as info:
        Placeholder(**kwargs)
    assert fault in str(info.value)


def test_validate_accepts_scan_result_or_plain_list() -> None:
    found = scan_placeholders(TEXT_TEMPLATE)
    assert isinstance(found, PlaceholderList)
    assert isinstance(found, list)
    params: dict[str, ParamValue] = {"prompt": "p", "negative": "n", "num_steps": 3}
    expected = {"$prompt": "p", "$negative": "n", "$num_steps": "3"}
    assert validate_params(found, params=params) == expected
    assert validate_params(list(found), params=params) == expected
    assert validate_params(tuple(found), params=params) == expected


def test_scan_problems_travel_with_the_scan_result() -> None:
    found = scan_placeholders(node(v="$text()"))
    assert problems_of(found) == found.problems


def test_mixed_list_is_refused() -> None:
    with pytest.raises(TypeError, match="not a mix"):
        validate_params([Placeholder("text", "x"), "$text(y)"])


def test_parse_placeholder() -> None:
    assert parse_placeholder("$file(img)") == Placeholder("file", "img", raw="$file(img)")
    assert parse_placeholder("hello") is None
    assert parse_error("$text()") == "malformed placeholder '$text()': the name is empty"


# --- properties ---------------------------------------------------------------------------------

names = st.text(alphabet=NAME_ALPHABET, min_size=1, max_size=MAX_NAME_LENGTH)


@deterministic
@given(name=names)
def test_any_name_from_the_alphabet_is_accepted(name: str) -> None:
    assert is_valid_file_name(name)
    workflow = node(img=f"$file({name})")
    found = scan_placeholders(workflow)
    assert found.problems == []
    assert found == [Placeholder("file", name, path=("1", "inputs", "img"))]
    assert validate_params(workflow, files={name: b""}) == {}


SHAPE = re.compile(r"\$(text|choice|file|random|timestamp)\(.*\)", re.DOTALL)


@deterministic
@given(text=st.text())
def test_ordinary_strings_are_never_reported(text: str) -> None:
    if SHAPE.fullmatch(text):
        return
    found = scan_placeholders({"a": text, "b": [text, {"c": text}]})
    assert found == []
    assert found.problems == []


@deterministic
@given(prefix=st.text(min_size=1).filter(lambda s: not s.startswith("$")), name=names)
def test_placeholders_after_other_text_are_never_reported(prefix: str, name: str) -> None:
    for raw in (f"$text({name})", f"$file({name})", "$random()", f"$choice({name}, a, b)"):
        found = scan_placeholders([prefix + raw])
        assert found == []
        assert found.problems == []


@deterministic
@given(
    options=st.lists(
        st.text(alphabet=string.printable.replace(",", ""), min_size=1).map(str.strip).filter(bool),
        min_size=2,
        max_size=4,
        unique=True,
    ),
    pick=st.integers(min_value=0, max_value=3),
)
def test_every_option_of_a_valid_choice_is_accepted(options: list[str], pick: int) -> None:
    workflow = node(c=f"$choice(c, {', '.join(options)})")
    found = scan_placeholders(workflow)
    assert found.problems == []
    assert found[0].options == tuple(options)
    chosen = options[pick % len(options)]
    assert validate_params(workflow, params={"c": chosen}) == {"#c": chosen}
