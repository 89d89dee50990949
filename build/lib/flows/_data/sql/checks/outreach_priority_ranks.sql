-- severity: bug. mart.outreach_priority ranks every desa of the reference list 1..N once at each as-of date of mart.backlog.
with per_date as (
    select as_of_date, count(*) as n, count(distinct kode_desa) as desa, count(distinct peringkat) as ranks,
           min(peringkat) as lo, max(peringkat) as hi
    from mart.outreach_priority group by all
),
expected as (select count(*) as n from core.desa),
dates as (
    select distinct as_of_date from mart.backlog
)
select per_date.as_of_date, 'ranks are not 1..N over every desa' as problem
from per_date, expected
where per_date.n <> expected.n or per_date.desa <> expected.n or per_date.ranks <> expected.n
   or per_date.lo <> 1 or per_date.hi <> expected.n
union all
select dates.as_of_date, 'an as-of date of mart.backlog has no ranking' as problem
from dates where dates.as_of_date not in (select as_of_date from mart.outreach_priority)
