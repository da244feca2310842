{#- A day given as a var (min_day, max_day), as a SQL string literal comparable with `_partition`.
    Anything but YYYY-MM-DD fails compilation, so a var never reaches the SQL as free text. -#}
{% macro day_literal(value) -%}
  {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value | string) -%}
    {{ exceptions.raise_compiler_error("min_day and max_day must be days (YYYY-MM-DD), got '" ~ value ~ "'") }}
  {%- endif -%}
  '{{ value }}'
{%- endmacro %}
