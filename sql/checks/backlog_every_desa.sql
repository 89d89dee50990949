-- severity: bug. Each as-of date in mart.backlog has, for each kab/kota with rows at it, every desa of that kab/kota in the region list (core.desa).
with per_kabupaten as (
    select kode_kabupaten, count(*) as n from core.desa group by all
)
select b.as_of_date, b.kode_kabupaten, count(*) as n
from mart.backlog as b
left join per_kabupaten as k on k.kode_kabupaten = b.kode_kabupaten
group by b.as_of_date, b.kode_kabupaten, k.n
having count(*) <> coalesce(k.n, -1)
