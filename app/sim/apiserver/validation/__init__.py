"""Validation: the checks that turn a bad object into a 400 or 422 `Status`.

Three stages, as upstream runs them:

* `check_types` (decoding): every field has its schema's JSON type, as Go's JSON
  decoder demands; a mismatch is a 400 `... cannot be handled as a ...: json: cannot
  unmarshal ...`. Nulls are dropped, as decoding into Go structs drops them.
* `check_unknown_fields` (`fieldValidation=Strict|Warn`): fields the schema does not
  declare are a 400 `strict decoding error: unknown field "spec.foo"` or warnings.
* `validate` (the registry strategy's Validate/ValidateUpdate): field rules with
  upstream field paths and messages (pkg/apis/core/validation/validation.go,
  apps/batch/rbac/networking/scheduling validation, apimachinery's
  validation.IsDNS1123Subdomain and friends), returned as `FieldCause`s;
  `validate_or_raise` turns them into the 422 Invalid Status.

`validate(ctx, obj, old)` is the request-pipeline stage that runs all three.

The rules are split by kind into the modules of this package (names, quantities,
decoding, metadata, pods, workloads, services, config, rbac, others, custom, entry);
this package re-exports their public names.
"""

from app.sim.apiserver.validation.custom import validate_against_schema
from app.sim.apiserver.validation.decoding import check_types, check_unknown_fields, prune
from app.sim.apiserver.validation.entry import validate, validate_object, validate_or_raise
from app.sim.apiserver.validation.metadata import validate_labels
from app.sim.apiserver.validation.names import (
    CONFIG_KEY,
    CONFIG_KEY_MSG,
    DNS1035_LABEL,
    DNS1035_LABEL_MSG,
    DNS1123_LABEL,
    DNS1123_LABEL_MSG,
    DNS1123_SUBDOMAIN,
    DNS1123_SUBDOMAIN_MSG,
    HIGHEST_USER_PRIORITY,
    LABEL_VALUE,
    LABEL_VALUE_MSG,
    MAX_ANNOTATIONS_BYTES,
    MAX_SECRET_BYTES,
    QUALIFIED_NAME,
    QUALIFIED_NAME_MSG,
    QUANTITY,
    QUANTITY_MSG,
    dns1035_label,
    dns1123_label,
    dns1123_subdomain,
    duplicate,
    forbidden_field,
    go_value,
    immutable,
    invalid_value,
    label_value,
    not_supported,
    path_segment_name,
    qualified_name,
    required,
)
from app.sim.apiserver.validation.pods import POD_UPDATE_FORBIDDEN, validate_pod_spec
from app.sim.apiserver.validation.quantities import format_quantity, parse_quantity
from app.sim.apiserver.validation.workloads import cron_schedule_error

__all__ = [
    "CONFIG_KEY",
    "CONFIG_KEY_MSG",
    "DNS1035_LABEL",
    "DNS1035_LABEL_MSG",
    "DNS1123_LABEL",
    "DNS1123_LABEL_MSG",
    "DNS1123_SUBDOMAIN",
    "DNS1123_SUBDOMAIN_MSG",
    "HIGHEST_USER_PRIORITY",
    "LABEL_VALUE",
    "LABEL_VALUE_MSG",
    "MAX_ANNOTATIONS_BYTES",
    "MAX_SECRET_BYTES",
    "POD_UPDATE_FORBIDDEN",
    "QUALIFIED_NAME",
    "QUALIFIED_NAME_MSG",
    "QUANTITY",
    "QUANTITY_MSG",
    "check_types",
    "check_unknown_fields",
    "cron_schedule_error",
    "dns1035_label",
    "dns1123_label",
    "dns1123_subdomain",
    "duplicate",
    "forbidden_field",
    "format_quantity",
    "go_value",
    "immutable",
    "invalid_value",
    "label_value",
    "not_supported",
    "parse_quantity",
    "path_segment_name",
    "prune",
    "qualified_name",
    "required",
    "validate",
    "validate_against_schema",
    "validate_labels",
    "validate_object",
    "validate_or_raise",
    "validate_pod_spec",
]
