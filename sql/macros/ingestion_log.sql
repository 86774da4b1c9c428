{#
  The ingestion log's columns (ssa/intake/ingest_log.py, LOG_COLUMNS, in its
  order), for the statements that read or write a whole log row.
  ``prefix``: '' for the columns, ':' for their bound parameters.
#}

{% macro log_columns(prefix='') -%}
{% for column in [
    'log_seq', 'file_name', 'source', 'file_sha256', 'file_bytes', 'status',
    'rows_read', 'rows_loaded', 'rows_rejected', 'rows_duplicate',
    'rows_skipped', 'batch_id', 'delimiter', 'missing_columns', 'detail',
    'archived_to', 'rejected_to', 'started_at', 'finished_at',
] %}
    {{ prefix }}{{ column }}{{ "," if not loop.last }}
{% endfor %}
{%- endmacro %}
