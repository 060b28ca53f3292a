# SPDX-License-Identifier: MIT
"""A strict reader of the Prometheus text exposition format 0.0.4, for
the metrics tests of the daemon (tests/integration/test_metrics.py) and
the plugin (tests/plugin/test_metrics.py).

parse(text) fails (AssertionError saying where) unless: every line is a
`# HELP`, a `# TYPE` or a sample `name{labels} value`; names match
[a-zA-Z_:][a-zA-Z0-9_:]* and label names [a-zA-Z_][a-zA-Z0-9_]*; label
values use only the escapes \\\\, \\" and \\n; HELP and TYPE come once per
family, before its samples, and a family's samples are together; no
series twice; histogram buckets are increasing in `le` and in count and
end with +Inf equal to _count, with one _sum. Plain Python 3.
"""
import re

CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'


NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*'
VALUE = r'(?:[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?' \
        r'|[-+]?Inf|NaN)'
SAMPLE_RX = re.compile(r'^(%s)(?:\{(.*)\})? (%s)$' % (NAME, VALUE))
LABEL_RX = re.compile(r'(%s)="((?:[^"\\\n]|\\[\\"n])*)"' % LABEL)
HELP_RX = re.compile(r'^# HELP (%s) ((?:[^\\\n]|\\[\\n])*)$' % NAME)
TYPE_RX = re.compile(r'^# TYPE (%s) (counter|gauge|histogram|summary|'
                     r'untyped)$' % NAME)
UNESCAPE = {'\\\\': '\\', '\\"': '"', '\\n': '\n'}


def parse_labels(text, line):
    labels = {}
    pos = 0
    while pos < len(text):
        m = LABEL_RX.match(text, pos)
        assert m, 'bad labels at %d in %r' % (pos, line)
        name = m.group(1)
        assert name not in labels, 'label %s twice in %r' % (name, line)
        labels[name] = re.sub(r'\\[\\"n]', lambda e: UNESCAPE[e.group(0)],
                              m.group(2))
        pos = m.end()
        if pos < len(text):
            assert text[pos] == ',', 'expected a comma in %r' % line
            pos += 1
            assert pos < len(text), 'trailing comma in %r' % line
    return labels


def family_of(name, types):
    for suffix in ('_bucket', '_sum', '_count'):
        base = name[:-len(suffix)]
        if name.endswith(suffix) and types.get(base) == 'histogram':
            return base
    return name


def check_histograms(samples, types):
    """Buckets increasing in le and in count, ending with +Inf equal to
    _count; a _sum for each."""
    for fam, typ in types.items():
        if typ != 'histogram':
            continue
        series = {}
        for name, labels, value in samples:
            if name != fam + '_bucket':
                continue
            key = tuple(sorted((k, v) for k, v in labels.items()
                               if k != 'le'))
            series.setdefault(key, []).append((labels['le'], value))
        assert series, 'histogram %s has no buckets' % fam
        for key, buckets in series.items():
            les = [float(le) for le, _ in buckets]
            counts = [v for _, v in buckets]
            assert les == sorted(les) and len(set(les)) == len(les), \
                '%s%s: buckets out of order %r' % (fam, key, les)
            assert buckets[-1][0] == '+Inf', '%s%s: no +Inf' % (fam, key)
            assert counts == sorted(counts), \
                '%s%s: buckets not cumulative %r' % (fam, key, counts)
            want = dict(key)
            total = [v for n, lb, v in samples
                     if n == fam + '_count' and lb == want]
            sums = [v for n, lb, v in samples
                    if n == fam + '_sum' and lb == want]
            assert total == [counts[-1]], \
                '%s%s: _count %r, +Inf %r' % (fam, key, total, counts[-1])
            assert len(sums) == 1, '%s%s: _sum %r' % (fam, key, sums)


def parse(text):
    """Strict text format 0.0.4: returns {name: {labels-tuple: value}}
    (histogram parts under their own names) and {family: type}."""
    assert text.endswith('\n'), 'text does not end with a newline'
    types, helps, samples, seen_series = {}, {}, [], set()
    done, current = set(), None
    for line in text[:-1].split('\n'):
        assert line, 'empty line'
        if line.startswith('#'):
            m = HELP_RX.match(line) or TYPE_RX.match(line)
            assert m, 'bad comment line %r' % line
            fam = m.group(1)
            table = helps if line.startswith('# HELP') else types
            assert fam not in table, 'second %s for %s' % (line[:6], fam)
            assert fam not in done, '%s declared after its samples' % fam
            table[fam] = m.group(2)
            if current and current != fam:
                done.add(current)
            current = fam
            continue
        m = SAMPLE_RX.match(line)
        assert m, 'bad sample line %r' % line
        name, value = m.group(1), float(m.group(3))
        labels = parse_labels(m.group(2) or '', line)
        fam = family_of(name, types)
        assert fam in types, 'sample %r before its TYPE' % line
        assert fam == current, 'sample %r outside its family' % line
        series = (name, tuple(sorted(labels.items())))
        assert series not in seen_series, 'series twice: %r' % line
        seen_series.add(series)
        samples.append((name, labels, value))
    assert set(helps) == set(types), 'HELP without TYPE or back'
    check_histograms(samples, types)
    out = {}
    for name, labels, value in samples:
        out.setdefault(name, {})[tuple(sorted(labels.items()))] = value
    return out, types


class Scrape:
    def __init__(self, text):
        self.text = text
        self.data, self.types = parse(text)

    def get(self, name, **labels):
        """A sample's value; 0 for a series not (yet) listed."""
        return self.data.get(name, {}).get(tuple(sorted(labels.items())),
                                           0.0)

    def series(self, name):
        return {k: v for k, v in self.data.get(name, {}).items()}

    def one_label(self, name, label):
        (key, value), = self.data[name].items()
        return dict(key)[label], value


