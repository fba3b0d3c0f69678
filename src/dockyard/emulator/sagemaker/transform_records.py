"""How a batch transform cuts an input object into requests and puts the answers back together.

Pure functions over bytes, as SageMaker's batch transform does them: ``SplitType`` cuts the object into
records (None: the object is one record; Line: each line, its newline kept), ``BatchStrategy`` groups
records into requests (SingleRecord: one each; MultiRecord: as many as fit in ``MaxPayloadInMB``), and
``AssembleWith`` joins the answers into the ``.out`` object (None: as they came; Line: each answer ends
with a newline). ``DataProcessing`` applies a JSONPath ``InputFilter`` to each record before it is sent,
joins each answer line to its input record (``JoinSource`` Input: CSV columns appended, a JSON object
gains ``SageMakerOutput``) and applies ``OutputFilter`` to the joined record. CSV rows are JSON arrays
to the filters (``$[1:]`` drops the first column).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jsonpath_ng.exceptions import JsonPathParserError
from jsonpath_ng.parser import parse as parse_jsonpath

MB = 1024 * 1024


class RecordError(Exception):
    """A record the job cannot process; the message becomes the job's FailureReason."""


def split(data: bytes, split_type: str) -> list[bytes]:
    if split_type == "Line":
        return [line for line in data.splitlines(keepends=True) if line.strip()]
    return [data] if data else []


def batches(records: list[bytes], strategy: str, max_payload_mb: int) -> Iterator[list[bytes]]:
    """Records grouped into requests; RecordError for a record larger than MaxPayloadInMB."""
    limit = max_payload_mb * MB if max_payload_mb > 0 else None  # 0: no limit (streamed in SageMaker)
    batch: list[bytes] = []
    size = 0
    for record in records:
        if limit is not None and len(record) > limit:
            raise RecordError(
                f"A record of {len(record)} bytes is larger than MaxPayloadInMB ({max_payload_mb} MB): "
                "split the input (SplitType Line) or raise MaxPayloadInMB."
            )
        if strategy != "MultiRecord":
            yield [record]
            continue
        if batch and limit is not None and size + len(record) > limit:
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += len(record)
    if batch:
        yield batch


def assemble(answers: list[bytes], assemble_with: str) -> bytes:
    if assemble_with != "Line":
        return b"".join(answers)
    return b"".join(answer if answer.endswith(b"\n") else answer + b"\n" for answer in answers)


# ---- DataProcessing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Processing:
    input_filter: str | None
    output_filter: str | None
    join: bool
    csv: bool  # records are CSV rows (else JSON)

    @classmethod
    def of(cls, data_processing: dict[str, Any] | None, content_type: str | None) -> Processing | None:
        if not data_processing:
            return None
        input_filter = data_processing.get("InputFilter")
        output_filter = data_processing.get("OutputFilter")
        join = data_processing.get("JoinSource") == "Input"
        for name, expression in (("InputFilter", input_filter), ("OutputFilter", output_filter)):
            if expression is not None:
                try:
                    parse_jsonpath(expression)
                except (JsonPathParserError, Exception) as exc:
                    raise RecordError(f"{name} {expression!r} is not a JSONPath expression: {exc}") from None
        if input_filter in (None, "$") and output_filter in (None, "$") and not join:
            return None
        return cls(input_filter, output_filter, join, (content_type or "").startswith("text/csv"))

    def filter_input(self, record: bytes) -> bytes:
        if self.input_filter in (None, "$"):
            return record
        return self._dump(_select(self.input_filter or "$", self._load(record)))

    def finish(self, record: bytes, answer: bytes) -> bytes:
        """The output line for one input record and its answer: joined, then filtered."""
        if not self.join and self.output_filter in (None, "$"):
            return answer if answer.endswith(b"\n") else answer + b"\n"
        output: Any = self._load(answer)
        if self.join:
            source = self._load(record)
            if self.csv:
                joined: Any = [*source, *(output if isinstance(output, list) else [output])]
            elif isinstance(source, dict):
                joined = {**source, "SageMakerOutput": output}
            elif isinstance(source, list):
                joined = [*source, output]
            else:
                raise RecordError("JoinSource Input needs JSON objects or arrays as input records.")
        else:
            joined = output
        if self.output_filter not in (None, "$"):
            joined = _select(self.output_filter or "$", joined)
        return self._dump(joined)

    def _load(self, data: bytes) -> Any:
        text = data.decode("utf-8", "replace").strip()
        if self.csv:
            return next(csv.reader([text]), [])
        try:
            return json.loads(text)
        except ValueError:
            raise RecordError(
                f"The record {text[:200]!r} is not JSON (the ContentType is not text/csv)."
            ) from None

    def _dump(self, value: Any) -> bytes:
        if self.csv:
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerow(value if isinstance(value, list) else [value])
            return out.getvalue().encode()
        return json.dumps(value, separators=(",", ":")).encode() + b"\n"


def _select(expression: str, value: Any) -> Any:
    matches = [match.value for match in parse_jsonpath(expression).find(value)]
    if not matches:
        raise RecordError(f"The JSONPath {expression!r} selects nothing of the record {value!r:.200}.")
    single = len(matches) == 1 and not _is_sliced(expression)
    return matches[0] if single else matches


def _is_sliced(expression: str) -> bool:
    """Whether the expression picks several items (a slice, a union or a wildcard), so that one match is
    still a list of one."""
    tail = expression.rsplit("[", 1)[-1] if "[" in expression else ""
    return ":" in tail or "," in tail or "*" in tail
