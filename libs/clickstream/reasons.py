"""Reason codes of rejected raw records, in priority order (stdlib only: the generator uses them)."""

# Per record, from the text outwards: its size, its syntax, its shape, then field by field.
RECORD_TOO_LARGE = "record_too_large"
NOT_JSON = "not_json"
NOT_AN_OBJECT = "not_an_object"
MISSING_EVENT_ID = "missing_event_id"
MISSING_USER_ID = "missing_user_id"
MISSING_EVENT_TYPE = "missing_event_type"
INVALID_TYPE = "invalid_type"
INVALID_ENCODING = "invalid_encoding"
INVALID_EVENT_TIME = "invalid_event_time"
INVALID_TITLE_ID = "invalid_title_id"
EVENT_TIME_IN_FUTURE = "event_time_in_future"
EVENT_TIME_TOO_OLD = "event_time_too_old"
# Per object: one row standing for what could not be read as records.
UNREADABLE_OBJECT = "unreadable_object"
TRUNCATED_OBJECT = "truncated_object"
OBJECT_TOO_LARGE = "object_too_large"
SKIPPED_BY_OPERATOR = "skipped_by_operator"
# Per user: a record of a user `clickstream forget` erased; it wins over every other reason (its
# text is never stored, whatever else is wrong with it).
FORGOTTEN_USER = "forgotten_user"
# Validation rules in priority order: a record gets the reason of the first rule it breaks. A
# record too large is never parsed for the others; a type or encoding fault of a contract field
# comes before the time checks, which judge a well-formed record; plausibility comes last. The
# per-object reasons never meet a record rule: each is a row of its own.
REASONS = (
    RECORD_TOO_LARGE,
    NOT_JSON,
    NOT_AN_OBJECT,
    MISSING_EVENT_ID,
    MISSING_USER_ID,
    MISSING_EVENT_TYPE,
    INVALID_TYPE,
    INVALID_ENCODING,
    INVALID_EVENT_TIME,
    INVALID_TITLE_ID,
    EVENT_TIME_IN_FUTURE,
    EVENT_TIME_TOO_OLD,
    UNREADABLE_OBJECT,
    TRUNCATED_OBJECT,
    OBJECT_TOO_LARGE,
    SKIPPED_BY_OPERATOR,
    FORGOTTEN_USER,
)
