-- severity: bug. Every as-of date in mart.backlog has every desa of the reference list (core.desa).
select as_of_date, count(*) as n from mart.backlog group by all
having count(*) <> (select count(*) from core.desa)
