-- severity: bug. Every as-of date in mart.backlog has all 259 desa.
select as_of_date, count(*) as n from mart.backlog group by all having count(*) <> 259
