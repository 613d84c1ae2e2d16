"""Reason codes of rejected raw records, in priority order (stdlib only: the generator uses them)."""

NOT_JSON = "not_json"
NOT_AN_OBJECT = "not_an_object"
MISSING_EVENT_ID = "missing_event_id"
MISSING_USER_ID = "missing_user_id"
MISSING_EVENT_TYPE = "missing_event_type"
INVALID_EVENT_TIME = "invalid_event_time"
INVALID_TITLE_ID = "invalid_title_id"
UNREADABLE_OBJECT = "unreadable_object"
# Validation rules in priority order: a record gets the reason of the first rule it breaks.
REASONS = (
    NOT_JSON,
    NOT_AN_OBJECT,
    MISSING_EVENT_ID,
    MISSING_USER_ID,
    MISSING_EVENT_TYPE,
    INVALID_EVENT_TIME,
    INVALID_TITLE_ID,
    UNREADABLE_OBJECT,
)
