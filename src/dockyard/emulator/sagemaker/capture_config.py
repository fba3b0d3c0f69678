"""An endpoint config's DataCaptureConfig: checked when the config is made, turned into what the runtime
acts on (:class:`~dockyard.emulator.route_table.CaptureSettings`), and summed up for DescribeEndpoint."""

from __future__ import annotations

from typing import Any

from dockyard.emulator.errors import ValidationException
from dockyard.emulator.route_table import CaptureSettings

_MODES = {"Input": (True, False), "Output": (False, True), "InputAndOutput": (True, True)}


def check_capture_config(config: dict[str, Any] | None) -> None:
    """ValidationException for what the local S3 cannot take (botocore has checked types and ranges)."""
    if config is None:
        return
    destination = str(config["DestinationS3Uri"])
    if not destination.startswith("s3://") or not destination[len("s3://") :].split("/", 1)[0]:
        raise ValidationException(
            f"DataCaptureConfig.DestinationS3Uri {destination!r} must be an s3://bucket[/prefix] URI: the "
            "local SageMaker writes captured data to the local S3."
        )
    for option in config["CaptureOptions"]:
        if option["CaptureMode"] not in _MODES:
            raise ValidationException(
                f"DataCaptureConfig.CaptureOptions: unknown CaptureMode {option['CaptureMode']!r}; "
                f"expected one of {', '.join(_MODES)}."
            )


def capture_settings(config: dict[str, Any] | None) -> CaptureSettings | None:
    if config is None:
        return None
    modes = [_MODES[option["CaptureMode"]] for option in config["CaptureOptions"]]
    headers = config.get("CaptureContentTypeHeader") or {}
    return CaptureSettings(
        destination=str(config["DestinationS3Uri"]),
        sampling_percentage=int(config["InitialSamplingPercentage"]),
        enabled=config.get("EnableCapture") is not False,  # SageMaker's default: enabled
        capture_input=any(mode[0] for mode in modes),
        capture_output=any(mode[1] for mode in modes),
        csv_content_types=tuple(headers.get("CsvContentTypes") or ()),
        json_content_types=tuple(headers.get("JsonContentTypes") or ()),
    )


def capture_summary(settings: CaptureSettings) -> dict[str, Any]:
    """DescribeEndpoint's DataCaptureConfigSummary. KmsKeyId is a required member of it; KmsKeyId is refused
    on input (the local S3 has no KMS), so no key is ever in use: the empty string says so."""
    return {
        "EnableCapture": settings.enabled,
        "CaptureStatus": "Started" if settings.enabled else "Stopped",
        "CurrentSamplingPercentage": settings.sampling_percentage,
        "DestinationS3Uri": settings.destination,
        "KmsKeyId": "",
    }
