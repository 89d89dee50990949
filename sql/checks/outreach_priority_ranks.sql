-- severity: bug. mart.outreach_priority ranks 1..N once, at each as-of date of mart.backlog and within each kab/kota, every desa of that kab/kota with a backlog row at the date (N from mart.backlog, not a constant).
-- The distinct ranks of a date and kab/kota: those in 1..4096 counted as the bits they set (a kab/kota
-- has fewer desa), any other by count(distinct) over those rows only; the same number as
-- count(distinct peringkat) over every row (0.08 s instead of 0.13 s on a province year: issue 19).
with in_range as (
    select as_of_date, kode_kabupaten, count(*) as n, count(distinct kode_desa) as desa,
           bit_count(bitstring_agg(peringkat, 1, 4096) filter (where peringkat between 1 and 4096)) as ranks,
           min(peringkat) as lo, max(peringkat) as hi
    from mart.outreach_priority group by all
),
outside as (
    select as_of_date, kode_kabupaten, count(distinct peringkat) as ranks
    from mart.outreach_priority where peringkat not between 1 and 4096 group by all
),
per_date as (
    select i.as_of_date, i.kode_kabupaten, i.n, i.desa, coalesce(i.ranks, 0) + coalesce(o.ranks, 0) as ranks, i.lo, i.hi
    from in_range i
    left join outside o on o.as_of_date is not distinct from i.as_of_date and o.kode_kabupaten is not distinct from i.kode_kabupaten
),
expected as (
    select as_of_date, kode_kabupaten, count(*) as n from mart.backlog group by all
)
select per_date.as_of_date, per_date.kode_kabupaten, 'ranks are not 1..N over every desa of the kab/kota' as problem
from per_date
left join expected on expected.as_of_date = per_date.as_of_date and expected.kode_kabupaten = per_date.kode_kabupaten
where per_date.n is distinct from expected.n or per_date.desa is distinct from expected.n
   or per_date.ranks is distinct from expected.n or per_date.lo <> 1 or per_date.hi is distinct from expected.n
union all
select expected.as_of_date, expected.kode_kabupaten, 'an as-of date of mart.backlog has no ranking for the kab/kota' as problem
from expected
left join per_date on per_date.as_of_date = expected.as_of_date and per_date.kode_kabupaten = expected.kode_kabupaten
where per_date.as_of_date is null
