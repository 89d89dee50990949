-- severity: bug. mart.kalender has one row per tanggal.
select tanggal, count(*) as n from mart.kalender group by all having count(*) > 1
