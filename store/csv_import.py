"""Contact lists from CSV files (or JSON rows), with a report that names every rejected row by its line.

Columns (header names are case-insensitive; spaces and dashes count as underscores):

* ``phone`` (required): any format ``phonenumbers`` understands with a country code;
* ``external_id``, or ``contact_id`` or ``id``: the contact's id in the caller's system. Without
  such a column each contact is named after its line, ``row-<line>``;
* ``extension``: digits sent as DTMF once the call is answered; ``+14155550106 ext. 12`` in ``phone``
  gives the same;
* ``name``, ``timezone`` (IANA; derived from the number when empty: a number that may ring in several
  zones is dialled only while all of them allow it, and counts in :attr:`ContactIntake.uncertain_zones`),
  ``region`` (the calling-hours policy's region, e.g. ``US-FL`` or ``AU``; derived from the number when
  empty), ``priority`` (whole number, higher first), ``persona`` (simulated carrier only);
* anything else lands in ``attributes``, keyed by the header as written.

Numbers are held to the organization's :class:`~schemas.contact.NumberRules` (:func:`~schemas.contact.
normalize_phone` says why one is refused). A line that is not CSV (an unterminated quote, a stray quote
inside a field) is rejected as a syntax error on its line; an unterminated quote swallows the rest of
the file, and its error says which lines went with it.

Good rows are returned even when others are rejected, so a caller can import what is valid and show
the rest to the user. Lists of any size stream through a :class:`ContactIntake`: it keeps only what
the duplicate checks need (each id and phone once) and the first :data:`MAX_LISTED_ERRORS` errors,
never the whole file or every contact.
"""

import csv
import io
import itertools
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, TypeVar

from pydantic import ValidationError

from schemas.contact import Contact, NumberRules
from schemas.imports import CsvImportReport, RowError
from schemas.validation import describe_validation_error

ID_COLUMNS = ("external_id", "contact_id", "id")
KNOWN_COLUMNS = ("phone", "extension", "name", "timezone", "region", "priority", "persona")
DELIMITERS = (",", ";", "\t")
MAX_LISTED_ERRORS = 1000
"""Rejected rows a report lists by line; the rest are counted (``rejected``)."""
MAX_LISTED_UNCERTAIN = 100
"""Accepted contacts whose zone is uncertain that a report names by external id; the rest are counted."""

Item = TypeVar("Item")


class ImportFileError(ValueError):
    """The file is not a CSV text we can read (not UTF-8, NUL characters, a broken quote or field)."""


class TooManyRowsError(ValueError):
    """The list has more rows than one import may bring."""

    def __init__(self, rows: int, limit: int) -> None:
        super().__init__(f"the list has {rows} rows; one import takes at most {limit}")
        self.rows = rows
        self.limit = limit


def _canonical(header: str) -> str:
    return header.strip().lower().replace(" ", "_").replace("-", "_")


def _delimiter(header_line: str) -> str:
    """Spreadsheets in many locales save ``;``-separated "CSV": pick the separator the header uses most."""
    return max(DELIMITERS, key=header_line.count)


def syntax_error(error: csv.Error, first_line: int, last_line: int) -> str:
    """A CSV syntax error as a report line's message. Python's strict reader stops at the end of the file
    inside a quoted field when a quote is never closed: every line from the quote on went into it."""
    if "unexpected end of data" in str(error):
        swallowed = f"lines {first_line}-{last_line} were" if last_line > first_line else "it was"
        return (
            "CSV syntax error: unterminated quoted field "
            f"(a quote opened on this line is never closed; {swallowed} not imported)"
        )
    return f'CSV syntax error: {error} (a quote inside a quoted field is written twice: "")'


def chunks(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """``items`` in lists of ``size`` (the last may be shorter), pulled lazily."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


class ContactIntake:
    """The checks of one contact list, row by row, in the order the rows come.

    Rejected, each with its own :class:`RowError`: rows that fail :class:`Contact` validation, rows
    repeating an external id or a phone number of an earlier good row or an id in
    ``existing_external_ids`` (the campaign's), and rows whose phone is in ``do_not_call`` (E.164) or
    is refused later by :meth:`refuse_listed` (a do-not-call list looked up chunk by chunk).

    Accepted contacts whose number may ring in several zones (no ``timezone`` given) are counted in
    :attr:`uncertain_zones`, the first :data:`MAX_LISTED_UNCERTAIN` named in :attr:`uncertain_zone_ids`.
    """

    def __init__(
        self,
        *,
        existing_external_ids: Collection[str] = (),
        do_not_call: Collection[str] = (),
        max_listed_errors: int | None = MAX_LISTED_ERRORS,
        rules: NumberRules | None = None,
    ) -> None:
        self._existing = existing_external_ids
        self._rules = rules or NumberRules()
        self._do_not_call = do_not_call
        self._max_listed = max_listed_errors
        self._id_lines: dict[str, int] = {}
        self._phone_lines: dict[str, tuple[int, str]] = {}
        self._errors: list[RowError] = []
        self.accepted = 0
        self.rejected = 0
        self.uncertain_zones = 0
        self.uncertain_zone_ids: list[str] = []

    @property
    def errors(self) -> list[RowError]:
        """The listed errors, by line (at most ``max_listed_errors``; :attr:`rejected` counts them all)."""
        return sorted(self._errors, key=lambda error: error.line)

    def reject(self, line: int, external_id: str | None, message: str) -> None:
        self.rejected += 1
        if self._max_listed is None or len(self._errors) < self._max_listed:
            self._errors.append(RowError(line=line, external_id=external_id, message=message))

    def check(self, line: int, fields: dict[str, Any], problems: Iterable[str] = ()) -> Contact | None:
        """The row's contact, or None after recording why it is rejected (with ``problems`` found before)."""
        found = list(problems)
        external_id = str(fields.get("external_id") or "").strip()
        if not external_id:
            found.append("external id is empty")
            fields = {**fields, "external_id": f"row-{line}"}  # a stand-in, so the other fields are still checked
        elif external_id in self._existing:
            found.append(f"external id {external_id!r} is already in the campaign")
        elif external_id in self._id_lines:
            found.append(f"external id {external_id!r} already appears on line {self._id_lines[external_id]}")
        contact: Contact | None = None
        try:
            contact = Contact.admit(fields, self._rules)
        except ValidationError as exc:
            found.append(describe_validation_error(exc))
        if contact is not None and contact.phone in self._phone_lines:
            earlier_line, earlier_id = self._phone_lines[contact.phone]
            found.append(f"phone {contact.phone} already appears on line {earlier_line} (external id {earlier_id!r})")
        if contact is not None and contact.phone in self._do_not_call:
            found.append(f"phone {contact.phone} is on the do-not-call list")
        if found or contact is None:
            self.reject(line, external_id or None, "; ".join(found))
            return None
        self._id_lines[contact.external_id] = line
        self._phone_lines[contact.phone] = (line, contact.external_id)
        self.accepted += 1
        if not contact.zone_confident:
            self.uncertain_zones += 1
            if len(self.uncertain_zone_ids) < MAX_LISTED_UNCERTAIN:
                self.uncertain_zone_ids.append(contact.external_id)
        return contact

    def refuse_listed(self, contacts: list[Contact], listed: Collection[str]) -> list[Contact]:
        """``contacts`` without those whose phone is in ``listed`` (E.164), each of which becomes an error
        on its line; their id and phone no longer count as taken."""
        if not listed:
            return contacts
        kept = []
        for contact in contacts:
            if contact.phone not in listed:
                kept.append(contact)
                continue
            line = self._id_lines.pop(contact.external_id)
            self._phone_lines.pop(contact.phone, None)
            self.accepted -= 1
            if not contact.zone_confident:
                self.uncertain_zones -= 1
                if contact.external_id in self.uncertain_zone_ids:
                    self.uncertain_zone_ids.remove(contact.external_id)
            self.reject(line, contact.external_id, f"phone {contact.phone} is on the do-not-call list")
        return kept

    # ---- sources ---------------------------------------------------------------------------------

    def csv_contacts(self, text: IO[str]) -> Iterator[Contact]:
        """The good contacts of a CSV text stream, read row by row; see the module docstring for the columns.

        Also rejected: rows whose priority is not a whole number, rows with more cells than the header
        and CSV syntax errors (:func:`syntax_error`), each on its line. Blank lines are skipped. A header
        without ``phone`` (or naming a column twice) yields one error, on line 1, and no contacts.
        """
        header_line = text.readline().removeprefix("\ufeff")
        reader = csv.reader(itertools.chain([header_line], text), delimiter=_delimiter(header_line), strict=True)
        try:
            header = next(reader, None)
        except csv.Error as err:
            self.reject(1, None, syntax_error(err, 1, reader.line_num))
            return
        if header is None or not any(cell.strip() for cell in header):
            self.reject(1, None, "the file is empty: expected a header row")
            return
        columns = [_canonical(cell) for cell in header]
        repeated = sorted({c for c in columns if c and columns.count(c) > 1})
        if repeated:
            self.reject(1, None, f"column(s) {', '.join(repeated)} appear more than once in the header")
            return
        if "phone" not in columns:
            found = ", ".join(cell.strip() for cell in header if cell.strip())
            self.reject(1, None, f"missing required column 'phone' (found: {found})")
            return
        id_column = next((columns.index(name) for name in ID_COLUMNS if name in columns), None)
        known = {name: columns.index(name) for name in KNOWN_COLUMNS if name in columns}
        extra = [
            (index, cell.strip())
            for index, cell in enumerate(header)
            if index != id_column and index not in known.values() and cell.strip()
        ]
        line = reader.line_num + 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as err:  # the reader starts afresh on the next line
                row_line, line = line, reader.line_num + 1
                self.reject(row_line, None, syntax_error(err, row_line, reader.line_num))
                continue
            row_line, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(header):
                message = f"{len(cells)} fields but the header has {len(header)}: check the separators and quotes"
                self.reject(row_line, None, message)
                continue
            cells = cells + [""] * (len(header) - len(cells))
            fields: dict[str, Any] = {name: cells[index].strip() for name, index in known.items()}
            fields["external_id"] = cells[id_column].strip() if id_column is not None else f"row-{row_line}"
            problems = []
            priority = fields.get("priority", "")
            try:
                fields["priority"] = int(priority) if priority else 0
            except ValueError:
                problems.append(f"priority {priority!r} is not a whole number")
                fields["priority"] = 0
            fields["attributes"] = {name: cells[index] for index, name in extra}
            contact = self.check(row_line, fields, problems)
            if contact is not None:
                yield contact

    def row_contacts(self, rows: Iterable[Mapping[str, Any]]) -> Iterator[Contact]:
        """The good contacts of rows given as mappings (a JSON list); ``line`` is a row's 1-based position,
        and a row without an external id is named ``row-<position>``."""
        for line, row in enumerate(rows, start=1):
            fields = dict(row)
            fields["external_id"] = str(fields.get("external_id") or "").strip() or f"row-{line}"
            contact = self.check(line, fields)
            if contact is not None:
                yield contact


def count_csv_rows(binary: IO[bytes]) -> int:
    """Rows of an uploaded CSV after its header (blank lines not counted), read once without keeping
    any; the stream is rewound. :class:`ImportFileError` for anything that is not readable CSV text, so
    that a file is refused before any of it is imported."""
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    try:
        header_line = text.readline()
        reader = csv.reader(itertools.chain([header_line], text), delimiter=_delimiter(header_line))
        return sum(1 for cells in reader if any(cell.strip() for cell in cells)) - 1 if header_line else 0
    except UnicodeDecodeError:
        raise ImportFileError("not UTF-8 text; save the sheet as 'CSV UTF-8'") from None
    except csv.Error as err:
        if "NUL" in str(err):
            raise ImportFileError("contains NUL characters; is it really a CSV file?") from None
        raise ImportFileError(f"not a readable CSV file (line {reader.line_num}): {err}") from None
    finally:
        text.detach()
        binary.seek(0)


def csv_text(binary: IO[bytes]) -> io.TextIOWrapper:
    """A binary CSV stream as text (UTF-8, with or without BOM), decoded as it is read.

    Call ``detach()`` on it when done, so that closing the text wrapper leaves the caller's stream open.
    """
    return io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")


def parse_contacts_csv(
    text: str,
    *,
    existing_external_ids: Collection[str] | None = None,
    do_not_call: Collection[str] = (),
    rules: NumberRules | None = None,
) -> CsvImportReport:
    """Validate a CSV contact list held in memory; every contact and every rejected row in the report.

    See :class:`ContactIntake` for what is rejected. Lists too big to hold go through
    :meth:`ContactIntake.csv_contacts` chunk by chunk instead.
    """
    intake = ContactIntake(
        existing_external_ids=existing_external_ids or (),
        do_not_call=do_not_call,
        max_listed_errors=None,
        rules=rules,
    )
    contacts = list(intake.csv_contacts(io.StringIO(text, newline="")))
    return CsvImportReport(contacts=contacts, errors=intake.errors)


def load_contacts_csv(path: str | Path) -> CsvImportReport:
    """:func:`parse_contacts_csv` on a UTF-8 file (with or without BOM); decoding errors propagate."""
    return parse_contacts_csv(Path(path).read_text(encoding="utf-8-sig"))
