-- severity: bug. mart.kalender holds every date of the range (core.date_spine) and no other.
select coalesce(spine.tanggal, kalender.tanggal) as tanggal, spine.tanggal is null as outside_range
from core.date_spine as spine
full outer join mart.kalender as kalender on kalender.tanggal = spine.tanggal
where spine.tanggal is null or kalender.tanggal is null
