"""The console's reading of SageMaker's validation messages: each failure goes to the field its path names,
whole and in SageMaker's words; a provider's own rule (not the shape validator's list) stays general."""

from __future__ import annotations

from dockyard.emulator.console.control import field_errors
from dockyard.emulator.console.forms import MODEL_FIELDS, FormErrors
from dockyard.emulator.errors import ValidationException


def test_each_failure_goes_to_its_field() -> None:
    message = (
        "2 validation errors detected: Value 'bad_name!' at 'modelName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}; "
        "Value 'x' at 'primaryContainer.image' failed to satisfy constraint: Member must have length "
        "greater than or equal to 2"
    )
    errors = FormErrors.of(ValidationException(message), MODEL_FIELDS)
    assert errors.fields == {
        "name": [
            "Value 'bad_name!' at 'modelName' failed to satisfy constraint: Member must satisfy regular "
            "expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
        ],
        "image": [
            "Value 'x' at 'primaryContainer.image' failed to satisfy constraint: Member must have length "
            "greater than or equal to 2"
        ],
    }
    assert errors.general == []
    assert errors.code == "ValidationException"


def test_a_value_containing_the_separator_stays_whole() -> None:
    message = (
        "2 validation errors detected: Value 'a; Value b' at 'modelName' failed to satisfy constraint: "
        "Member must x; Value null at 'tags.1.member.key' failed to satisfy constraint: "
        "Member must not be null"
    )
    assert field_errors(message) == [
        ("modelName", "Value 'a; Value b' at 'modelName' failed to satisfy constraint: Member must x"),
        (
            "tags.1.member.key",
            "Value null at 'tags.1.member.key' failed to satisfy constraint: Member must not be null",
        ),
    ]


def test_a_providers_rule_is_a_general_error() -> None:
    message = 'Cannot create already existing model "arn:aws:sagemaker:us-east-1:123456789012:model/m".'
    errors = FormErrors.of(ValidationException(message), MODEL_FIELDS)
    assert errors.fields == {}
    assert errors.general == [message]
