"""Contact lists from CSV files, with a report that names every rejected row by its line number.

Columns (header names are case-insensitive; spaces and dashes count as underscores):

* ``phone`` (required): any format ``phonenumbers`` understands with a country code;
* ``external_id``, or ``contact_id`` or ``id``: the contact's id in the caller's system. Without
  such a column each contact is named after its line, ``row-<line>``;
* ``name``, ``timezone`` (IANA; derived from the number when empty), ``priority`` (whole number,
  higher first), ``persona`` (simulated carrier only);
* anything else lands in ``attributes``, keyed by the header as written.

Good rows are returned even when others are rejected, so a caller can import what is valid and show
the rest to the user.
"""

import csv
import io
from collections.abc import Collection
from pathlib import Path

from pydantic import ValidationError

from schemas.contact import Contact
from schemas.imports import CsvImportReport, RowError

ID_COLUMNS = ("external_id", "contact_id", "id")
KNOWN_COLUMNS = ("phone", "name", "timezone", "priority", "persona")
DELIMITERS = (",", ";", "\t")


def _canonical(header: str) -> str:
    return header.strip().lower().replace(" ", "_").replace("-", "_")


def _delimiter(header_line: str) -> str:
    """Spreadsheets in many locales save ``;``-separated "CSV": pick the separator the header uses most."""
    return max(DELIMITERS, key=header_line.count)


def describe_validation_error(error: ValidationError) -> str:
    """Pydantic's messages, minus their "Value error, " noise, and prefixed by the field they are about."""
    parts: list[str] = []
    for detail in error.errors():
        message = detail["msg"].removeprefix("Value error, ")
        field = str(detail["loc"][0]) if detail["loc"] else ""
        if message.startswith("'"):
            parts.append(f"{field} {message}")
        elif not field or field.replace("_", " ") in message or field in message:
            parts.append(message)
        else:
            parts.append(f"{field}: {message}")
    return "; ".join(parts)


def parse_contacts_csv(
    text: str, *, existing_external_ids: set[str] | None = None, do_not_call: Collection[str] = ()
) -> CsvImportReport:
    """Validate a CSV contact list; see the module docstring for the columns.

    Rejected, each with its own :class:`RowError`: rows that fail :class:`Contact` validation or whose
    priority is not a whole number, rows with more cells than the header, and rows repeating an
    external id or a phone number of an earlier good row or an id in ``existing_external_ids`` (the
    campaign's), or whose phone is in ``do_not_call`` (E.164). Blank lines are skipped. A header without
    ``phone`` yields one error, on line 1.

    To check against a do-not-call list held elsewhere, parse once, look up the good rows' phones, and
    parse again with the ones found: see :func:`blocked_phones`.
    """
    text = text.removeprefix("\ufeff")
    header_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(header_line))
    header = next(reader, None)
    if header is None or not any(cell.strip() for cell in header):
        return CsvImportReport(errors=[RowError(line=1, message="the file is empty: expected a header row")])

    columns = [_canonical(cell) for cell in header]
    repeated = sorted({c for c in columns if c and columns.count(c) > 1})
    if repeated:
        message = f"column(s) {', '.join(repeated)} appear more than once in the header"
        return CsvImportReport(errors=[RowError(line=1, message=message)])
    if "phone" not in columns:
        found = ", ".join(cell.strip() for cell in header if cell.strip())
        message = f"missing required column 'phone' (found: {found})"
        return CsvImportReport(errors=[RowError(line=1, message=message)])
    id_column = next((columns.index(name) for name in ID_COLUMNS if name in columns), None)
    known = {name: columns.index(name) for name in KNOWN_COLUMNS if name in columns}
    extra = [
        (index, cell.strip())
        for index, cell in enumerate(header)
        if index != id_column and index not in known.values() and cell.strip()
    ]

    existing = existing_external_ids or set()
    id_lines: dict[str, int] = {}
    phone_lines: dict[str, tuple[int, str]] = {}
    report = CsvImportReport()
    line = reader.line_num + 1
    for cells in reader:
        row_line, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            message = f"{len(cells)} fields but the header has {len(header)}: check the separators and quotes"
            report.errors.append(RowError(line=row_line, message=message))
            continue
        cells = cells + [""] * (len(header) - len(cells))
        external_id = cells[id_column].strip() if id_column is not None else f"row-{row_line}"
        problems: list[str] = []
        if not external_id:
            problems.append("external id is empty")
        elif external_id in existing:
            problems.append(f"external id {external_id!r} is already in the campaign")
        elif external_id in id_lines:
            problems.append(f"external id {external_id!r} already appears on line {id_lines[external_id]}")

        # A stand-in id for an empty one, so that the row's other fields are still checked.
        fields: dict[str, object] = {"external_id": external_id or f"row-{row_line}"}
        fields.update({name: cells[index].strip() for name, index in known.items()})
        priority = cells[known["priority"]].strip() if "priority" in known else ""
        try:
            fields["priority"] = int(priority) if priority else 0
        except ValueError:
            problems.append(f"priority {priority!r} is not a whole number")
            fields["priority"] = 0
        fields["attributes"] = {name: cells[index] for index, name in extra}
        contact: Contact | None = None
        try:
            contact = Contact.model_validate(fields)
        except ValidationError as exc:
            problems.append(describe_validation_error(exc))
        if contact is not None and contact.phone in phone_lines:
            earlier_line, earlier_id = phone_lines[contact.phone]
            problems.append(
                f"phone {contact.phone} already appears on line {earlier_line} (external id {earlier_id!r})"
            )

        if contact is not None and contact.phone in do_not_call:
            problems.append(f"phone {contact.phone} is on the do-not-call list")

        if problems or contact is None:
            report.errors.append(RowError(line=row_line, external_id=external_id or None, message="; ".join(problems)))
            continue
        id_lines[contact.external_id] = row_line
        phone_lines[contact.phone] = (row_line, contact.external_id)
        report.contacts.append(contact)
    return report


def load_contacts_csv(path: str | Path) -> CsvImportReport:
    """:func:`parse_contacts_csv` on a UTF-8 file (with or without BOM); decoding errors propagate."""
    return parse_contacts_csv(Path(path).read_text(encoding="utf-8-sig"))
