#!/usr/bin/env python3
"""Regenerates the conformance corpus: every case's expected output (or error kind) comes from Jinja2 3.1.

    pip install 'jinja2>=3.1,<3.2' && python3 tests/Integration.Templates.Tests/Conformance/generate.py

The C# tests read the JSON files this writes; they need no Python.
"""
import json
import os
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import jinja2
from jinja2.sandbox import SandboxedEnvironment

assert jinja2.__version__.startswith("3.1"), jinja2.__version__
HERE = os.path.dirname(os.path.abspath(__file__))
NOW = datetime(2026, 3, 1, 12, 30, 45, tzinfo=timezone.utc)

CTX = {
    "name": "Ada", "city": "Zürich", "n": 42, "f": 2.5, "neg": -7, "zero": 0, "big": 1234567,
    "price": 19.999, "empty": "", "none": None, "t": True, "no": False,
    "items": [3, 1, 2], "words": ["banana", "Apple", "cherry"], "nested": [[1, 2], [3, 4]],
    "user": {"first": "Ada", "last": "Lovelace", "age": 36, "tags": ["math", "code"]},
    "users": [{"name": "Ada", "age": 36, "team": "a"}, {"name": "Bob", "age": 17, "team": "b"}, {"name": "Cy", "age": 52, "team": "a"}],
    "text": "  Hello World  ", "sentence": "the quick brown fox jumps over the lazy dog",
    "html": "<b>Tom & \"Jerry\"</b>", "emoji": "héllo 😀 wörld", "multiline": "one\ntwo\n\nthree",
    "d": {"b": 2, "a": 1, "c": 3}, "iso": "2026-03-01T10:00:00Z", "ms": 1767225600000,
}


def to_datetime(v, tz="UTC"):
    zone = timezone.utc if tz == "UTC" else ZoneInfo(tz)
    if isinstance(v, datetime):
        return v
    if isinstance(v, (int, float)):
        return datetime.fromtimestamp(v / 1000, tz=zone)
    parsed = datetime.fromisoformat(v.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def environment():
    env = SandboxedEnvironment()
    env.globals["now"] = lambda tz="UTC": NOW.astimezone(timezone.utc if tz == "UTC" else ZoneInfo(tz))
    env.globals["timedelta"] = timedelta
    env.filters["to_datetime"] = to_datetime
    env.filters["strftime"] = lambda v, fmt: to_datetime(v).strftime(fmt)
    env.filters["in_timezone"] = lambda v, tz: to_datetime(v).astimezone(timezone.utc if tz == "UTC" else ZoneInfo(tz))
    env.filters["add_days"] = lambda v, n: to_datetime(v) + timedelta(days=n)
    env.filters["add_hours"] = lambda v, n: to_datetime(v) + timedelta(hours=n)
    env.filters["add_minutes"] = lambda v, n: to_datetime(v) + timedelta(minutes=n)
    return env


CASES = {
    "literals": [
        "{{ 42 }}", "{{ 42.0 }}", "{{ 4.20 }}", "{{ 1e3 }}", "{{ 1.5e-5 }}", "{{ 1e16 }}", "{{ 1e15 }}", "{{ 0.1 + 0.2 }}", "{{ 1_000 }}",
        "{{ 0x1F }}", "{{ 0o17 }}", "{{ 0b101 }}", "{{ 'single' }}", '{{ "double" }}', "{{ 'a' 'b' }}", "{{ 'it\\'s' }}", "{{ \"tab\\there\" }}",
        "{{ '\\u00e9' }}", "{{ true }}", "{{ True }}", "{{ false }}", "{{ none }}", "{{ None }}", "{{ [1, 'a', none, true, 2.5] }}",
        "{{ (1, 2) }}", "{{ (1,) }}", "{{ () }}", "{{ {'a': 1, 'b': [2]} }}", "{{ {} }}", "{{ [] }}", "{{ ['it\\'s'] }}", "{{ [\"q\\\"\"] }}",
        "{{ 1, 2 }}", "{{ [1, [2, [3]]] }}", "{{ -0.0 }}", "{{ 1e300 * 1e10 }}", "{{ 123456789.123 }}", "{{ 1/3 }}", "{{ 2/3 }}", "{{ 100.0 }}",
        "{{ 1e-4 }}", "{{ 0.00001 }}", "{{ 12345678901234567.0 }}", "{{ [0.1, 1e20] }}", "{{ 'a\\nb' }}", "{{ ['a\\nb'] }}",
    ],
    "arithmetic": [
        "{{ 1 + 2 }}", "{{ 1 + 2.0 }}", "{{ 7 - 10 }}", "{{ 6 * 7 }}", "{{ 7 / 2 }}", "{{ 8 / 2 }}", "{{ 7 // 2 }}", "{{ -7 // 2 }}", "{{ 7 % 3 }}",
        "{{ -7 % 3 }}", "{{ 7 % -3 }}", "{{ 7.5 % 2 }}", "{{ 2 ** 10 }}", "{{ 2 ** -1 }}", "{{ 2 ** 3 ** 2 }}", "{{ -2 ** 2 }}", "{{ 'ab' * 3 }}",
        "{{ 3 * 'ab' }}", "{{ [1] * 3 }}", "{{ 'a' + 'b' }}", "{{ [1] + [2] }}", "{{ n + f }}", "{{ n ~ f }}", "{{ 'x' ~ 1 ~ none ~ true }}",
        "{{ 1 + 2 * 3 - 4 / 2 }}", "{{ (1 + 2) * 3 }}", "{{ -n }}", "{{ +n }}", "{{ --n }}", "{{ neg|abs }}", "{{ true + 1 }}", "{{ 10 // 3.0 }}",
        "{{ 2.5 * 2 }}", "{{ 0.1 * 3 }}", "{{ 1 / 0 }}", "{{ 1 // 0 }}", "{{ 1 % 0 }}", "{{ 'a' + 1 }}", "{{ 1 + 'a' }}", "{{ none + 1 }}",
        "{{ [1] + (2,) }}", "{{ 'a' * 'b' }}", "{{ 'a' - 'b' }}", "{{ missing + 1 }}", "{{ 5 - -3 }}", "{{ 1e308 * 10 }}", "{{ 3 * 1.1 }}",
        "{{ 'a' ~ missing ~ 'b' }}", "{{ big * big }}", "{{ 2 ** 0.5 }}", "{{ 9 ** 0.5 }}",
    ],
    "comparisons": [
        "{{ 1 == 1.0 }}", "{{ 1 != 2 }}", "{{ 'a' < 'b' }}", "{{ 'B' < 'a' }}", "{{ 1 < 2 < 3 }}", "{{ 3 > 2 > 2 }}", "{{ [1, 2] < [1, 3] }}",
        "{{ 1 < 'a' }}", "{{ none == none }}", "{{ missing == none }}", "{{ 'a' in 'abc' }}", "{{ 'd' not in 'abc' }}", "{{ 2 in items }}",
        "{{ 'b' in d }}", "{{ 1 in 'abc' }}", "{{ not true }}", "{{ not 0 }}", "{{ true and 'x' }}", "{{ 0 or 'fallback' }}", "{{ '' or none }}",
        "{{ 1 and 0 }}", "{{ [] or [1] }}", "{{ not missing }}", "{{ n > 40 and f < 3 }}", "{{ n >= 42.0 }}", "{{ true == 1 }}", "{{ (1, 2) == [1, 2] }}",
        "{{ {'a': 1} == {'a': 1.0} }}", "{{ missing < 1 }}", "{{ none < 1 }}", "{{ 'abc' >= 'abd' }}", "{{ 2 not in [1, 2] }}",
    ],
    "conditionals": [
        "{% if t %}yes{% endif %}", "{% if no %}yes{% else %}no{% endif %}", "{% if n > 50 %}big{% elif n > 40 %}mid{% else %}small{% endif %}",
        "{% if empty %}x{% else %}empty is false{% endif %}", "{% if '0' %}string zero is true{% endif %}", "{% if [] %}a{% else %}b{% endif %}",
        "{% if {} %}a{% else %}b{% endif %}", "{% if 0.0 %}a{% else %}b{% endif %}", "{% if missing %}a{% else %}b{% endif %}",
        "{% if none %}a{% elif zero %}b{% elif items %}c{% endif %}", "{{ 'y' if t else 'n' }}", "{{ 'y' if no else 'n' }}", "[{{ 'y' if no }}]",
        "{{ 'a' if n > 1 else 'b' if n > 0 else 'c' }}", "{% if n is even %}even{% endif %}", "{% if user.age >= 18 and 'math' in user.tags %}ok{% endif %}",
        "{% if not user.missing %}no key{% endif %}", "{% if n %}{% if f %}both{% endif %}{% endif %}", "{% if t %}{% else %}{% endif %}x",
        "{% if %}x{% endif %}", "{% if t %}x", "{% if t %}x{% endfor %}", "{% if t %}x{% else %}y{% else %}z{% endif %}", "{% elif t %}",
        "{% if t -%}   yes   {%- endif %}", "{{ 'a' if t else }}",
    ],
    "loops": [
        "{% for i in items %}{{ i }}{% endfor %}", "{% for i in items %}{{ loop.index }}:{{ i }}{% if not loop.last %}, {% endif %}{% endfor %}",
        "{% for i in items %}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.length }}|{% endfor %}",
        "{% for i in [] %}x{% else %}empty{% endfor %}", "{% for k in d %}{{ k }}{% endfor %}", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
        "{% for a, b in nested %}{{ a + b }} {% endfor %}", "{% for c in 'abc' %}{{ c }}-{% endfor %}", "{% for i in range(3) %}{{ i }}{% endfor %}",
        "{% for i in range(1, 10, 3) %}{{ i }},{% endfor %}", "{% for i in range(5, 0, -2) %}{{ i }}{% endfor %}",
        "{% for i in items if i > 1 %}{{ i }}{{ loop.index }}{% endfor %}", "{% for i in items %}{{ loop.cycle('odd', 'even') }} {% endfor %}",
        "{% for u in users %}{{ u.name }}{% if loop.previtem is defined %}<{{ loop.previtem.name }}{% endif %} {% endfor %}",
        "{% for u in users %}{{ loop.nextitem.name if loop.nextitem is defined else 'end' }} {% endfor %}",
        "{% for u in users|sort(attribute='team') %}{% if loop.changed(u.team) %}[{{ u.team }}]{% endif %}{{ u.name }}{% endfor %}",
        "{% for row in nested %}{% for x in row %}{{ loop.depth }}{{ x }}{% endfor %};{% endfor %}",
        "{% for i in items %}{% set x = i * 2 %}{{ x }}{% endfor %}[{{ x }}]", "{% set x = 5 %}{% for i in items %}{% set x = i %}{% endfor %}{{ x }}",
        "{% for i in missing %}x{% else %}none{% endfor %}", "{% for i in 42 %}{% endfor %}", "{% for i in items %}{{ i }}",
        "{% for %}{% endfor %}", "{% for i items %}{% endfor %}", "{% for i in items %}{{ loop.index }}{% for j in items %}{{ loop.index }}{% endfor %} {% endfor %}",
        "{% for a, b in [[1,2],[3]] %}{% endfor %}", "{% for x in [1,2,3] recursive %}{{ x }}{% endfor %}",
        "{%- for item in [{'n': 'a', 'c': [{'n': 'b', 'c': []}]}] recursive %}{{ item.n }}({{ loop(item.c) }}){% endfor %}",
        "{% for i in range(3) %}{{ i }}{% else %}never{% endfor %}", "{% for i in users|map(attribute='age') %}{{ i }} {% endfor %}",
    ],
    "whitespace": [
        "a  {{- ' b ' -}}  c", "a\n{%- if t %}\nb\n{%- endif %}\nc", "a\n{% if t -%}\n   b\n{% endif %}\nc", "<ul>\n{% for i in items %}\n  <li>{{ i }}</li>\n{% endfor %}\n</ul>",
        "<ul>\n{%- for i in items %}\n  <li>{{ i }}</li>\n{%- endfor %}\n</ul>", "x {# comment #} y", "x {#- comment -#} y", "x\n{# multi\nline #}\ny",
        "trailing newline\n", "two trailing\n\n", "\n\nleading", "a\r\nb", "{% raw %}{{ not rendered }}{% endraw %}", "{%- raw -%}  {{ x }}  {%- endraw -%}",
        "  {%- raw %} a {% endraw -%}  ", "{{ name }}\n{{ name }}", "{% set x = 1 %}\n{{ x }}\n", "{%+ if t %}x{% endif %}", "{% if t +%}\nx{% endif %}",
        "a {{ '' }} b", "{#  never closed", "{{ name ", "{{ name }} }}", "{%- if t -%}\n\n  a  \n\n{%- endif -%}", "line1\n  {{- name -}}  \nline2",
    ],
    "set_and_scope": [
        "{% set x = 42 %}{{ x }}", "{% set a, b = 1, 2 %}{{ a }}{{ b }}", "{% set x %}block {{ name }}{% endset %}[{{ x }}]",
        "{% set x | upper %}shout {{ name }}{% endset %}{{ x }}", "{% set ns = namespace(count=0) %}{% for i in items %}{% set ns.count = ns.count + i %}{% endfor %}{{ ns.count }}",
        "{% set x = 1 %}{% if t %}{% set x = 2 %}{% endif %}{{ x }}", "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]",
        "{% with %}{% set inner = 1 %}{% endwith %}{{ inner }}", "{% set l = [1, 2] + [3] %}{{ l }}", "{% set d2 = {'k': 'v'} %}{{ d2.k }}{{ d2['k'] }}",
        "{% set x.y = 1 %}", "{% set 1 = 2 %}", "{% set x = %}", "{% set ns = namespace() %}{% set ns.a = 'A' %}{{ ns.a }}",
        "{% set n = n + 1 %}{{ n }}", "{% set name = name|upper %}{{ name }}", "{% set x = [] %}{{ x|length }}",
    ],
    "access": [
        "{{ user.first }}", "{{ user['last'] }}", "{{ user.tags[0] }}", "{{ user.tags[-1] }}", "{{ user.tags.1 }}", "{{ items[5] }}", "[{{ user.nope }}]",
        "{{ user.nope.deeper }}", "{{ missing.attr }}", "{{ missing['key'] }}", "[{{ none.attr }}]", "{{ items[1:] }}", "{{ items[:2] }}", "{{ items[::-1] }}",
        "{{ name[1:3] }}", "{{ name[-1] }}", "{{ 'hello'[::2] }}", "{{ sentence.split()[2] }}", "{{ users[1].name }}", "{{ d['a'] + d.b }}",
        "{{ name.upper() }}", "{{ name.lower() }}", "{{ text.strip() }}", "{{ sentence.split(' ', 2) }}", "{{ 'a,b,c'.split(',') }}",
        "{{ name.replace('a', 'A') }}", "{{ name.startswith('A') }}", "{{ name.endswith(('x', 'a')) }}", "{{ sentence.title() }}",
        "{{ '-'.join(words) }}", "{{ sentence.count('o') }}", "{{ sentence.find('fox') }}", "{{ d.get('a') }}", "{{ d.get('z', 'none') }}",
        "{{ d.keys()|list }}", "{{ d.values()|list }}", "{{ 'abc'.capitalize() }}", "{{ '42'.isdigit() }}", "{{ '7'.zfill(3) }}",
        "{{ '{} and {}'.format('a', 'b') }}", "{{ '{0:.2f}'.format(price) }}", "{{ '{:>6}|'.format(name) }}", "{{ '{:,}'.format(big) }}",
        "{{ '%s is %d'|format(name, n) }}", "{{ '%.2f'|format(price) }}", "{{ '%05.1f|%-4s|%x'|format(f, 'ab', 255) }}", "{{ '%s' % name }}",
        "{{ '%(a)s-%(b)s' % {'a': 1, 'b': 2} }}", "{{ '%d%%'|format(50) }}", "{{ '%e'|format(12345.678) }}", "{{ '%g %g'|format(0.0001, 123456789) }}",
        "{{ name.__class__ }}", "{{ emoji[6] }}", "{{ emoji|length }}",
    ],
    "filters_text": [
        "{{ name|upper }}", "{{ name|lower }}", "{{ sentence|title }}", "{{ 'hELLO wORLD'|capitalize }}", "{{ text|trim }}", "{{ '--x--'|trim('-') }}",
        "{{ name|length }}", "{{ sentence|wordcount }}", "{{ sentence|truncate(20) }}", "{{ sentence|truncate(20, true) }}", "{{ sentence|truncate(9, false, '!') }}",
        "{{ sentence|truncate(40) }}", "{{ sentence|truncate(43) }}", "{{ 'short'|truncate(3) }}", "{{ name|center(9) }}|", "{{ name|center(10) }}|",
        "{{ multiline|indent }}", "{{ multiline|indent(2, true) }}", "{{ multiline|indent(2, blank=true) }}", "{{ multiline|indent('> ', first=true) }}",
        "{{ name|replace('a', 'o') }}", "{{ 'aaa'|replace('a', 'b', 2) }}", "{{ name|reverse }}", "{{ html|e }}", "{{ html|escape }}", "{{ html|striptags }}",
        "{{ '<p>a  <br/>b</p>'|striptags }}", "{{ 'a b&c/d'|urlencode }}", "{{ {'q': 'a b', 'n': 1}|urlencode }}", "{{ city|urlencode }}",
        "{{ name|first }}", "{{ name|last }}", "{{ 'x'|string }}", "{{ 42|string ~ '!' }}", "{{ emoji|upper }}", "{{ emoji|reverse }}", "{{ city|upper }}",
        "{{ 'straße'|upper }}", "{{ 'don\\'t stop'|title }}", "{{ 'hello-world (test) [x]'|title }}", "{{ 'ÉCOLE'|lower }}", "{{ 1234567|filesizeformat }}",
        "{{ 1024|filesizeformat(true) }}", "{{ 1|filesizeformat }}", "{{ 500|filesizeformat }}", "{{ text|wordcount }}", "{{ empty|length }}",
        "{{ name|nosuchfilter }}", "{{ name|truncate(2) }}", "{{ 'abc'|center }}", "{{ sentence|truncate(length=10, leeway=0) }}",
    ],
    "filters_values": [
        "{{ missing|default('fallback') }}", "{{ none|default('fallback') }}", "{{ none|default('fallback', true) }}", "{{ empty|default('fallback', true) }}",
        "{{ missing|d('short') }}", "{{ name|default('x') }}", "{{ '42'|int + 1 }}", "{{ '42.9'|int }}", "{{ 42.9|int }}", "{{ 'abc'|int }}", "{{ 'abc'|int(7) }}",
        "{{ '0x1A'|int(0, 16) }}", "{{ ' 12 '|int }}", "{{ '3.5'|float }}", "{{ 'x'|float }}", "{{ 2|float }}", "{{ 42.5|round }}", "{{ 43.5|round }}",
        "{{ 20.0|round }}", "{{ 42|round }}", "{{ 2.675|round(2) }}", "{{ 1.5|round(0, 'floor') }}", "{{ 1.2|round(method='ceil') }}", "{{ 3.14159|round(3) }}",
        "{{ 1234|round(-2) }}", "{{ price|round(2) }}", "{{ -2.5|round }}", "{{ 0.125|round(2) }}", "{{ neg|abs }}", "{{ -2.5|abs }}", "{{ items|sum }}",
        "{{ users|sum(attribute='age') }}", "{{ [0.1, 0.2]|sum }}", "{{ items|min }}", "{{ items|max }}", "{{ words|min }}", "{{ words|max(case_sensitive=true) }}",
        "{{ users|max(attribute='age') }}", "{{ []|max }}", "{{ items|sort }}", "{{ items|sort(reverse=true) }}", "{{ words|sort }}", "{{ words|sort(case_sensitive=true) }}",
        "{{ users|sort(attribute='age')|map(attribute='name')|join(',') }}", "{{ items|join('-') }}", "{{ users|join(', ', attribute='name') }}", "{{ [1, 'a', none]|join }}",
        "{{ items|first }}", "{{ items|last }}", "{{ items|length }}", "{{ items|count }}", "{{ d|length }}", "{{ items|reverse|list }}", "{{ 'abc'|list }}",
        "{{ d|dictsort }}", "{{ d|dictsort(by='value', reverse=true) }}", "{{ d|items|list }}", "{{ [1, 2, 1, 3, 2]|unique|list }}", "{{ ['a', 'A', 'b']|unique|list }}",
        "{{ items|map('string')|join('|') }}", "{{ words|map('upper')|list }}", "{{ items|select('odd')|list }}", "{{ items|reject('odd')|list }}",
        "{{ items|select('gt', 1)|list }}", "{{ users|selectattr('age', 'ge', 18)|map(attribute='name')|list }}", "{{ users|rejectattr('team', 'eq', 'a')|map(attribute='name')|list }}",
        "{{ [0, 1, '', 'a', none]|select|list }}", "{% for g in users|groupby('team') %}{{ g.grouper }}:{{ g.list|map(attribute='name')|join(',') }};{% endfor %}",
        "{% for team, members in users|groupby('team') %}{{ team }}{{ members|length }}{% endfor %}", "{{ range(7)|batch(3)|list }}", "{{ range(7)|batch(3, 'x')|list }}",
        "{{ range(7)|slice(3)|list }}", "{{ d|tojson }}", "{{ user|tojson }}", "{{ 'a<b>&\\'c'|tojson }}", "{{ [1, 2.5, none, true, 'é']|tojson }}",
        "{{ d|tojson(indent=2) }}", "{{ users[0]|attr('name') }}", "{{ 'x'|safe }}", "{{ html|forceescape }}", "{{ users|map(attribute='missing', default='?')|list }}",
        "{{ items|sum(start=10) }}", "{{ none|length }}", "{{ missing|length }}", "{{ missing|upper }}", "{{ missing|int }}", "{{ 'a'|round }}",
        "{{ items|batch(0)|list }}", "{{ users|map(attribute='age')|select('odd')|list }}", "{{ missing|default(none) }}",
    ],
    "tests": [
        "{{ n is defined }}", "{{ missing is defined }}", "{{ missing is undefined }}", "{{ none is none }}", "{{ n is none }}", "{{ n is number }}",
        "{{ f is float }}", "{{ n is integer }}", "{{ t is integer }}", "{{ t is boolean }}", "{{ name is string }}", "{{ items is sequence }}",
        "{{ d is mapping }}", "{{ items is iterable }}", "{{ n is iterable }}", "{{ n is even }}", "{{ n is odd }}", "{{ n is divisibleby 7 }}",
        "{{ n is divisibleby(5) }}", "{{ n is not divisibleby 5 }}", "{{ n is eq 42 }}", "{{ n is ne 42 }}", "{{ n is gt 40 }}", "{{ n is lt 40 }}",
        "{{ n is ge 42 }}", "{{ n is le 41 }}", "{{ 'a' is in 'abc' }}", "{{ 2 is in items }}", "{{ name is lower }}", "{{ 'abc' is lower }}",
        "{{ 'ABC' is upper }}", "{{ t is true }}", "{{ no is false }}", "{{ 1 is true }}", "{{ n is sameas 42 }}", "{{ none is sameas none }}",
        "{{ 'upper' is filter }}", "{{ 'nope' is filter }}", "{{ 'odd' is test }}", "{{ range is callable }}", "{{ name is callable }}",
        "{{ n is == 42 }}", "{{ n is nosuchtest }}", "{{ not n is odd }}", "{{ n is not none and n > 1 }}", "{{ html|e is escaped }}", "{{ name is escaped }}",
        "{{ 2 is divisibleby 0 }}",
    ],
    "macros": [
        "{% macro hi(who) %}Hi {{ who }}!{% endmacro %}{{ hi('Ada') }} {{ hi(name) }}", "{% macro m(a, b=2) %}{{ a }}-{{ b }}{% endmacro %}{{ m(1) }} {{ m(1, 3) }} {{ m(b=5, a=4) }}",
        "{% macro m(a) %}[{{ a }}]{% endmacro %}{{ m() }}", "{% macro m() %}{{ varargs }}{% endmacro %}{{ m(1, 2) }}", "{% macro m() %}{{ kwargs }}{% endmacro %}{{ m(x=1) }}",
        "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(b=1) }}",
        "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold {{ name }}{% endcall %}",
        "{% macro list(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}{% call(x) list(items) %}<{{ x }}>{% endcall %}",
        "{% macro fact(k) %}{% if k <= 1 %}1{% else %}{{ k * fact(k - 1)|int }}{% endif %}{% endmacro %}{{ fact(5) }}",
        "{% macro greet(p) %}{{ p.first }} {{ p.last }}{% endmacro %}{{ greet(user)|upper }}", "{% macro m() %}x{% endmacro %}{{ m()|length }}",
        "{% set g = 'global' %}{% macro m() %}{{ g }}{% endmacro %}{{ m() }}", "{% macro m(a, b=a) %}{{ b }}{% endmacro %}{{ m(3) }}",
        "{{ later() }}{% macro later() %}x{% endmacro %}", "{% macro m(a=1, b) %}{% endmacro %}", "{% macro %}{% endmacro %}",
        "{% macro m(x) %}{{ x }}{% endmacro %}{% for i in items %}{{ m(i) }}{% endfor %}", "{% macro m() %}{% set inner = 1 %}{% endmacro %}{{ m() }}{{ inner }}",
        "{% macro r(k) %}{{ r(k) }}{% endmacro %}{{ r(1) }}", "{% macro m() %}a\n{% endmacro %}[{{ m() }}]",
    ],
    "filter_blocks_and_misc": [
        "{% filter upper %}hello {{ name }}{% endfilter %}", "{% filter truncate(10) %}a long long long text here{% endfilter %}",
        "{% filter replace('a', 'o')|upper %}banana{% endfilter %}", "{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}{{ c.next() }}{{ c.current }}",
        "{% set j = joiner(' | ') %}{% for i in items %}{{ j() }}{{ i }}{% endfor %}", "{{ dict(a=1, b=2) }}", "{{ range(3)|list }}", "{{ range(10)|length }}",
        "{{ namespace(a=1).a }}", "{% nosuchtag %}", "{% endif %}",
        "{{ }}", "{{ name | }}", "{{ name|upper( }}", "{{ [1, 2 }}", "{{ (1 }}", "{{ 1 + }}", "{{ 'unterminated }}", "{% for i in items %}{% endif %}",
        "{{ foo(1, a=2, 3) }}", "{{ name. }}", "{{ user.tags[0:1] }}", "{{ {'a': 1}['a'] }}", "{{ [1, 2, 3][1] }}", "{{ 'é' ~ 'ü' }}",
        "{{ city }} {{ city|length }}", "{{ emoji }}", "{{ '日本語'|length }} {{ '日本語'[1] }}", "{{ 'ÀÉÎ'|lower }}", "{{ 'ǆ'|upper }}",
        "{{ 'tab\\there'|wordcount }}", "{{ 'a' ~ 1 + 2 }}", "{{ 1 + 2 ~ 'a' }}", "{{ 'x' if missing is defined else 'y' }}",
        "{{ users|selectattr('age', 'gt', 20)|list|length }}", "{{ (users|first).name }}", "{{ items|map('int')|sum }}", "{{ name ~ ' ' ~ user.last|upper }}",
        "{{ -f|abs }}", "{{ not t or no }}", "{{ (n, f)|list }}", "{{ n|string|length }}", "{{ 'ab' in ['ab', 'c'] }}",
    ],
    "dates": [
        "{{ now() }}", "{{ now('Europe/Berlin') }}", "{{ now().year }}-{{ now().month }}-{{ now().day }}", "{{ now()|strftime('%Y-%m-%d %H:%M:%S') }}",
        "{{ now('Asia/Kolkata').strftime('%d/%m/%Y %I:%M %p') }}", "{{ iso|to_datetime }}", "{{ iso|to_datetime|in_timezone('America/New_York') }}",
        "{{ iso|add_days(3)|strftime('%A %d %B %Y') }}", "{{ iso|add_hours(-5) }}", "{{ iso|add_minutes(90)|strftime('%H:%M') }}",
        "{{ ms|to_datetime }}", "{{ (now() + timedelta(days=7)).strftime('%Y-%m-%d') }}", "{{ (now() - iso|to_datetime).days }}",
        "{{ now().weekday() }} {{ now().isoweekday() }}", "{{ now().isoformat() }}", "{{ '2026-07-01T09:00:00+02:00'|to_datetime|strftime('%H:%M %z') }}",
        "{{ now('Europe/Berlin')|strftime('%j %a %b %y') }}", "{{ iso|to_datetime > now() }}", "{{ now('Not/AZone') }}",
        "{{ '2026-03-29T12:00:00Z'|to_datetime|in_timezone('Europe/Berlin')|strftime('%H:%M %z') }}",
    ],
}

CAMPAIGN_CASES = [
    # A typical campaign body: what the benchmark renders.
    '{"identity":"{{ user.first|lower }}","event":"Offer","properties":{"name":"{{ user.first }} {{ user.last }}","age":{{ user.age }},'
    '"tier":"{% if user.age > 30 %}gold{% else %}silver{% endif %}","tags":[{% for t in user.tags %}"{{ t }}"{% if not loop.last %},{% endif %}{% endfor %}]}}',
    "Hi {{ user.first|default('there')|title }}, your {{ items|length }} items total {{ '%.2f'|format(price * 3) }}.",
]


def main():
    env = environment()
    total = 0
    for group, templates in list(CASES.items()) + [("campaign", CAMPAIGN_CASES)]:
        cases = []
        for i, template in enumerate(templates):
            case = {"name": f"{group}-{i:03d}", "template": template}
            try:
                case["expected"] = env.from_string(template).render(**CTX)
            except (jinja2.TemplateSyntaxError, jinja2.TemplateAssertionError):
                case["error"] = "syntax"
            except Exception:  # noqa: BLE001 - any runtime failure is a render error for the corpus
                case["error"] = "render"
            cases.append(case)
        total += len(cases)
        with open(os.path.join(HERE, f"{group}.json"), "w", encoding="utf-8") as out:
            json.dump({"jinja2": jinja2.__version__, "cases": cases}, out, ensure_ascii=False, indent=1)
            out.write("\n")
    with open(os.path.join(HERE, "context.json"), "w", encoding="utf-8") as out:
        json.dump({"now": NOW.isoformat(), "context": CTX}, out, ensure_ascii=False, indent=1)
        out.write("\n")
    print(f"{total} cases")


if __name__ == "__main__":
    main()
