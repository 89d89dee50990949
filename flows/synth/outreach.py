"""The plan's outreach: devices that stop for long, village requests (their files, with dirt), the visits that answer them.

In: the plan's fourth child generator, the regions, the log dates, the short outages and rejected logs.
Out: a frozen ``_Outreach``. Nothing here fails on the plan's input.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from flows.synth.calendar import REQUEST_DIRT, REQUEST_RATE, REQUEST_WAIT, _choice, _closed
from flows.synth.codes import DUPLICATE, REQUEST_COLUMNS, REQUEST_REASONS
from flows.synth.regions import _Regions


@dataclass(frozen=True)
class _Outreach:
    """What the plan decides about the outreach before the first day.

    ``down``: days x kecamatan, True where the kecamatan office's device is broken although its log
    still comes (``_breakdowns``); ``breakdowns``: [(kecamatan index, first, last day index)];
    ``visits``: day index -> desa indices of the jemput-bola visits planned that day; ``blocked``: days x
    desa, True where no other visit may go (a request waits for its planned visit, or for ever);
    ``letters``: [(registration day index, desa index, nomor_surat)], the valid requests;
    ``request_files``: day index -> (header, rows, reason of each row or None, dialect)."""
    down: np.ndarray
    breakdowns: list
    visits: dict
    blocked: np.ndarray
    letters: list
    request_files: dict


def _outreach(rng: np.random.Generator, reg: _Regions, days: list[date], outage: np.ndarray, defects: dict,
              realistic: bool, dirt: bool) -> _Outreach:
    """In: the regions, the log dates, the short outages and the rejected logs of the plan, whether the
    volume is realistic and dirty. Out: the outreach plan. Draws in a fixed order: the long breakdowns
    (realistic volume only), the visits during them, the letters, the request files."""
    loadable = ~outage
    for i, k in defects:
        loadable[i, k] = False
    down, breakdowns = _breakdowns(rng, reg, days, realistic)
    visits = _breakdown_visits(rng, reg, days, breakdowns, loadable)
    letters = _letters(rng, reg, days, loadable)
    visits |= {(v, desa) for _, desa, v in letters if v is not None}
    blocked = np.zeros((len(days), len(reg.desa)), dtype=bool)
    planned: dict[int, list[int]] = {}
    for v, desa in sorted(visits):
        planned.setdefault(desa, []).append(v)
    for r, desa, _ in letters:  # from registration to the first planned visit (or the end) nothing else comes
        later = [v for v in planned.get(desa, []) if v >= r]
        blocked[r:later[0] if later else len(days), desa] = True
    by_day: dict[int, list[int]] = {}
    for v, desa in sorted(visits):
        by_day.setdefault(v, []).append(desa)
    named, files = _request_files(rng, reg, days, letters, dirt)
    return _Outreach(down, breakdowns, by_day, blocked, named, files)


def _breakdowns(rng: np.random.Generator, reg: _Regions, days: list[date], realistic: bool) -> tuple[np.ndarray, list]:
    """Two one-device kecamatan (never Muara Dua) whose office device stops while the log still comes:
    one for 8-12 weekdays in the middle of the window (when it has 25 weekdays or more), the other from
    7-10 days before the end to the end (when the window has 21 days or more). Realistic volume only.
    Out: days x kecamatan (True: broken) and [(kecamatan index, first, last day index)]."""
    nk = len(reg.kec)
    down = np.zeros((len(days), nk), dtype=bool)
    if not realistic:
        return down, []
    single = np.flatnonzero((reg.n_devices == 1) & ~np.isin(np.arange(nk), reg.capitals))
    if len(single) < 2:  # a small kab/kota whose offices all have several devices: any but the capital
        single = np.flatnonzero(~np.isin(np.arange(nk), reg.capitals))
    if len(single) < 2:
        return down, []
    a, b = (int(k) for k in rng.choice(single, 2, replace=False))
    length, back = int(rng.integers(8, 13)), int(rng.integers(7, 11))
    weekdays = [i for i, d in enumerate(days) if d.weekday() < 5]
    lo, hi = int(0.3 * len(weekdays)), min(int(0.55 * len(weekdays)), len(weekdays) - length - 8)
    first = int(rng.integers(lo, hi + 1)) if len(weekdays) >= 25 and hi >= lo else None
    spells = []
    if first is not None:  # in the middle, back well before the end
        spells.append((a, weekdays[first], weekdays[first + length - 1]))
    if len(days) >= 21:  # still broken at the end
        spells.append((b, len(days) - 1 - back, len(days) - 1))
    for k, lo_i, hi_i in spells:
        down[lo_i:hi_i + 1, k] = True
    return down, spells


def _breakdown_visits(rng: np.random.Generator, reg: _Regions, days: list[date], spells: list,
                      loadable: np.ndarray) -> set:
    """Jemput-bola visits to the desa of a kecamatan whose office device is broken: on about half of
    its office days (at least two) when its log will be loaded. Out: {(day index, desa index)}."""
    out = set()
    for k, first, last in spells:
        office = [i for i in range(first, last + 1) if not _closed(days[i]) and loadable[i, k]]
        if not office:
            continue
        n = min(len(office), max(2, int(rng.binomial(len(office), 0.5))))
        chosen = np.sort(rng.choice(office, n, replace=False))
        lo, hi = reg.kec_lo[k], reg.kec_hi[k]
        desa = lo + _choice(rng, n, np.cumsum(reg.jb_w[lo:hi]))
        out.update(zip(chosen.tolist(), desa.tolist()))
    return out


def _letters(rng: np.random.Generator, reg: _Regions, days: list[date], loadable: np.ndarray) -> list[list]:
    """The village letters: REQUEST_RATE a day on office days, from desa with a large backlog; most get a
    visit 2-15 days later (the first office day then on which the kecamatan's log will be loaded; none
    when that falls after the end), REQUEST_WAIT of them none; a desa still waiting after a week may
    write again (at least one does when one can). Out: [registration day, desa, planned visit day or None],
    by registration day."""
    letters = []
    for i, d in enumerate(days):
        n = int(rng.poisson(REQUEST_RATE * reg.volume)) if not _closed(d) else 0
        desa, wait, delay = _choice(rng, n, reg.jb_cum), rng.random(n) < REQUEST_WAIT, rng.integers(2, 16, n)
        for j in range(n):
            v = None if wait[j] else _visit_day(days, loadable, i + int(delay[j]), int(reg.desa_kec[desa[j]]))
            letters.append([i, int(desa[j]), v])
    waiting = [x for x in letters if x[2] is None or x[2] - x[0] > 10]
    pick, gap = rng.random(len(waiting)) < 0.3, rng.integers(7, 15, len(waiting))
    serve, delay = rng.random(len(waiting)) < 0.5, rng.integers(2, 16, len(waiting))
    again: list[list] = []
    office = np.ones((len(days), 1), dtype=bool)
    for force in (False, True):  # the second pass (one letter) makes sure one desa writes twice
        for j, (i, desa, v) in enumerate(waiting):
            if (force and again) or not (pick[j] or force):
                continue
            r = _visit_day(days, office, i + int(gap[j]), 0)
            if r is None or (v is not None and r >= v):
                continue
            served = v if v is not None else _visit_day(days, loadable, r + int(delay[j]), int(reg.desa_kec[desa]))
            again.append([r, desa, served if v is not None or serve[j] else None])
    return sorted(letters + again, key=lambda x: x[0])


def _visit_day(days: list[date], loadable: np.ndarray, start: int, k: int) -> int | None:
    """The first office day from day index ``start`` on which kecamatan ``k``'s log will be loaded; None
    when there is none in the window."""
    for i in range(start, len(days)):
        if not _closed(days[i]) and loadable[i, k]:
            return i
    return None


ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


def _request_files(rng: np.random.Generator, reg: _Regions, days: list[date], letters: list,
                   dirt: bool) -> tuple[list, dict]:
    """The request files: a row per letter (``_letter_rows``), with dirt a few bad rows
    (``_bad_requests``), each file in its dialect (with dirt, one in ten without the optional
    ``perkiraan_warga`` when none of its rows breaks that rule). Out: the valid requests
    [(day index, desa index, nomor_surat)] and {day index: (header, rows, reasons, dialect)}."""
    rows, named = _letter_rows(rng, reg, days, letters, dirt)
    by_day: dict[int, list] = {}
    for (i, _, _), row in zip(letters, rows):
        by_day.setdefault(i, []).append((row, None))
    for i, at, row, reason in (_bad_requests(rng, reg, days, letters, rows) if dirt and letters else []):
        entries = by_day[i]
        entries.insert(len(entries) if at is None else at, (row, reason))
    files = {}
    for i in sorted(by_day):
        d = {"sep": ",", "eol": "\n", "bom": False, "estimate": True}
        if dirt:
            u = rng.random(4)
            d = {"sep": ";" if u[0] < 0.35 else ",", "eol": "\r\n" if u[1] < 0.25 else "\n", "bom": bool(u[2] < 0.15),
                 "estimate": bool(u[3] >= 0.1) or any(r == "perkiraan_warga_invalid" for _, r in by_day[i])}
        width = len(REQUEST_COLUMNS) - (not d["estimate"])
        files[i] = (list(REQUEST_COLUMNS[:width]), [r[:width] for r, _ in by_day[i]], [r for _, r in by_day[i]], d)
    return named, files


def _letter_rows(rng: np.random.Generator, reg: _Regions, days: list[date], letters: list,
                 dirt: bool) -> tuple[list, list]:
    """One valid row per letter: the letter written 0-10 days before its registration (with dirt as
    YYYY-MM-DD, DD-MM-YYYY or DD/MM/YYYY), a number from the desa's own letter register
    (``_nomor``), the residents it expects (empty one time in five). Out: the rows
    (REQUEST_COLUMNS) and [(day index, desa index, nomor_surat)]."""
    n, nd = len(letters), len(reg.desa)
    style, first = rng.integers(0, 3, nd), rng.integers(1, 40, nd)  # each desa's own habit and register
    back, fmt, klass = rng.integers(0, 11, n), rng.integers(0, 5, n), rng.integers(0, 4, n)
    step, estimate, empty = rng.integers(1, 25, n), rng.integers(2, 41, n) * 10, rng.random(n) < 0.2
    seq: dict[int, int] = {}
    rows, named = [], []
    for j, (i, desa, _) in enumerate(letters):
        seq[desa] = seq.get(desa, int(first[desa])) + int(step[j])
        written = days[i] - timedelta(days=int(back[j]))
        nomor = _nomor(reg, desa, seq[desa], int(klass[j]), int(style[desa]), written)
        rows.append([str(reg.desa[desa]), _date_text(written, int(fmt[j]) if dirt else 0), nomor,
                     None if empty[j] else str(estimate[j])])
        named.append((i, desa, nomor))
    return rows, named


def _nomor(reg: _Regions, desa: int, seq: int, klass: int, style: int, written: date) -> str:
    """A letter number as a village office writes it, e.g. ``140/023/DS.2001/2025``: the archive
    class, the register's number, the desa (``KEL`` for a kelurahan), the month in roman numerals
    in one style, the year. Only letters, digits, '.', '/', '-'."""
    part = ("KEL." if reg.kelurahan[desa] else "DS.") + str(reg.desa[desa])[-4:]
    head = f"{('140', '470', '474', '005')[klass]}/{seq:03d}"
    return (f"{head}/{part}/{written.year}", f"{head}/{part}/{ROMAN[written.month - 1]}/{written.year}",
            f"{head}/{part.replace('.', '-')}/{written.year}")[style]


def _date_text(d: date, fmt: int) -> str:
    """``d`` as YYYY-MM-DD (fmt 0-2), DD-MM-YYYY (3) or DD/MM/YYYY (4)."""
    return d.strftime("%d-%m-%Y") if fmt == 3 else d.strftime("%d/%m/%Y") if fmt == 4 else d.isoformat()


def _bad_requests(rng: np.random.Generator, reg: _Regions, days: list[date], letters: list,
                  rows: list) -> list[tuple]:
    """About REQUEST_DIRT bad rows per letter (at least one), each breaking exactly one rule, the
    reasons REQUEST_REASONS in turn: a letter of another desa with a code that is no desa, a letter
    dated after its registration or on no date, a number with a space or a phone number, an estimate written ``1.500``
    (or above 100000); or a letter registered twice in its file (its number maybe in lower case).
    Out: [(day index, position in its file or None for the end, row, reason)]."""
    n_bad = max(1, round(REQUEST_DIRT * len(letters)))
    offset, host = int(rng.integers(0, len(REQUEST_REASONS))), rng.integers(0, len(letters), n_bad)
    variant, pos, other = rng.integers(0, 5, n_bad), rng.random(n_bad), _choice(rng, n_bad, reg.jb_cum)
    seq, back = rng.integers(100, 400, n_bad), rng.integers(0, 11, n_bad)
    files = Counter(i for i, _, _ in letters)
    out = []
    for j in range(n_bad):
        reason, v = REQUEST_REASONS[(offset + j) % len(REQUEST_REASONS)], int(variant[j])
        i = letters[host[j]][0]
        if reason == DUPLICATE:
            base = rows[host[j]]
            out.append((i, None, [base[0], base[1], base[2].lower() if v % 2 else base[2], base[3]], reason))
            continue
        day, kode = days[i], str(reg.desa[other[j]])
        nomor = _nomor(reg, int(other[j]), int(seq[j]), 0, v % 3, day)
        row = [kode, (day - timedelta(days=int(back[j]))).isoformat(), nomor, str(50 + 10 * v)]
        after = day + timedelta(days=1 + v)
        k, value = {
            "kode_desa_unknown": (0, [kode[:8], kode[:9] + "9999", str(reg.desa_bps[other[j]]), None,
                                      str(reg.desa_other_kab[other[j]])]),
            "tanggal_surat_invalid": (1, [after.isoformat(), f"{day.year}-02-30", f"31/04/{day.year}", None,
                                          after.strftime("%d/%m/%Y")]),
            "nomor_surat_invalid": (2, [f"{nomor} (susulan)", f"No. {nomor}", nomor.replace("/", " / ", 1),
                                        nomor.replace("/", "/ ", 2), f"{nomor}-081271234567"]),
            "perkiraan_warga_invalid": (3, ["1.500", "1,500", "150 orang", "250000", "2.000"]),
        }[reason]
        row[k] = value[v]
        out.append((i, int(pos[j] * (files[i] + 1)), row, reason))
        files[i] += 1
    return out
