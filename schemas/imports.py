"""Contact intake: a CSV import report, and the pages of contacts a campaign claims from the store.

They live with the contracts (not in ``store``) because workflows receive them from activities, and
workflow code must not import the database layer.
"""

from pydantic import BaseModel, Field

from schemas.contact import Contact, ContactRef


class RowError(BaseModel):
    line: int = Field(ge=1, description="1-based line in the file; the header is line 1")
    external_id: str | None = None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class CsvImportReport(BaseModel):
    contacts: list[Contact] = Field(default_factory=list, description="The rows that were valid")
    errors: list[RowError] = Field(default_factory=list, description="One entry per rejected row")

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        """One line of counts, then one line per rejected row."""
        head = f"{len(self.contacts)} contact(s) ready, {len(self.errors)} row(s) rejected"
        return "\n".join([head, *(str(error) for error in self.errors)])


class ClaimedPage(BaseModel):
    contacts: list[ContactRef] = Field(default_factory=list, description="Highest priority first, then oldest")
    remaining: int = Field(ge=0, description="Contacts still undispatched after this claim")
