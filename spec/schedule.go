package spec

import (
	"fmt"
	"strings"
	"sync"
	"time"
	// The IANA time zone database, embedded: a timeZone the machine's own
	// database lacks is still known, so `gen vet` agrees across machines.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"

	"github.com/milvus-gitops/milvusgen/model"
)

// backupSchedule checks backup.schedule and backup.timeZone as the
// CronJob API does (k8s.io/kubernetes pkg/apis/batch/validation: the
// schedule parses with robfig/cron's ParseStandard, five fields or a
// macro, without TZ=; the time zone loads from the IANA database and is
// not "Local"), and that backup.staleAfterHours is longer than the
// longest gap between two scheduled runs, or the staleness alert would
// fire between two healthy backups.
func (s *Set) backupSchedule(name string, env *model.Environment) []Diagnostic {
	b := env.Backup
	if !b.Enabled {
		return nil
	}
	if strings.Contains(b.Schedule, "TZ=") {
		return s.positioned(name, "backup.schedule", "the time zone goes in backup.timeZone, not in the schedule (the CronJob API refuses TZ=)")
	}
	sched, err := cron.ParseStandard(b.Schedule)
	if err != nil {
		why := err.Error()
		// robfig/cron reports a bad name as Go's number parse error.
		if i := strings.Index(why, "strconv.Atoi: parsing "); i >= 0 {
			why = strings.TrimSuffix(why[i+len("strconv.Atoi: parsing "):], ": invalid syntax") + " is neither a number nor a name (JAN-DEC, SUN-SAT)"
		}
		return s.positioned(name, "backup.schedule", fmt.Sprintf("%q is not a cron schedule (five fields: minute hour day-of-month month day-of-week, or @hourly, @daily, @weekly, @monthly, @yearly): %s", b.Schedule, why))
	}
	loc, err := timeZone(b.TimeZone)
	if err != nil {
		return s.positioned(name, "backup.timeZone", err.Error())
	}
	gap, ok := longestGapCached(b.Schedule, b.TimeZone, sched, loc)
	if !ok {
		return s.positioned(name, "backup.schedule", fmt.Sprintf("%q never runs", b.Schedule))
	}
	if time.Duration(b.StaleAfterHours)*time.Hour <= gap {
		return s.positioned(name, "backup.staleAfterHours",
			fmt.Sprintf("%d hours is not longer than the longest gap between two scheduled backups (%s for %q in %s): the staleness alert would fire between healthy backups; use at least %d",
				b.StaleAfterHours, gap, b.Schedule, b.TimeZone, int(gap.Hours())+1))
	}
	return nil
}

// timeZone loads an IANA zone name the way the CronJob API accepts it.
func timeZone(name string) (*time.Location, error) {
	if name == "" || strings.EqualFold(name, "Local") || strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
		return nil, fmt.Errorf("%q is not an IANA time zone name (e.g. Etc/UTC, Europe/Berlin)", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%q is not in the IANA time zone database (e.g. Etc/UTC, Europe/Berlin, America/New_York)", name)
	}
	return loc, nil
}

// gaps caches longestGap by schedule and zone: a fleet of environments
// shares a handful of schedules.
var gaps sync.Map // "schedule\x00zone" -> gapResult

type gapResult struct {
	gap time.Duration
	ok  bool
}

func longestGapCached(schedule, zone string, sched cron.Schedule, loc *time.Location) (time.Duration, bool) {
	key := schedule + "\x00" + zone
	if r, ok := gaps.Load(key); ok {
		return r.(gapResult).gap, r.(gapResult).ok
	}
	gap, ok := longestGap(sched, loc)
	gaps.Store(key, gapResult{gap, ok})
	return gap, ok
}

// longestGap is the longest time between consecutive runs of a schedule
// over 2027 and 2028 (a plain and a leap February, a leap year's length,
// both daylight-saving changes of loc), and at least one gap however rare
// the runs (Feb 29 only: four years), from a fixed start, so the result is
// the same on every run. ok is false for a schedule that never runs (Feb
// 30).
//
// It steps from run day to run day: a cron schedule runs at the same
// clock times on every day it runs, so a day's runs are stepped through
// once (and on each day whose length daylight saving changes), not on
// every day, which keeps a schedule of every minute cheap.
func longestGap(sched cron.Schedule, loc *time.Location) (gap time.Duration, ok bool) {
	day := func(t time.Time) time.Time { y, m, d := t.Date(); return time.Date(y, m, d, 0, 0, 0, 0, loc) }
	after := func(d time.Time) time.Time { y, m, dd := d.Date(); return time.Date(y, m, dd+1, 0, 0, 0, 0, loc) }
	// runsOn steps through the runs on day d (at most 1440).
	runsOn := func(d time.Time) []time.Time {
		var out []time.Time
		end := after(d)
		for t := sched.Next(d.Add(-time.Second)); !t.IsZero() && t.Before(end); t = sched.Next(t) {
			out = append(out, t)
		}
		return out
	}
	start := time.Date(2027, 1, 1, 0, 0, 0, 0, loc)
	end := time.Date(2029, 1, 2, 0, 0, 0, 0, loc)
	first := sched.Next(start.Add(-time.Second))
	if first.IsZero() {
		return 0, false
	}
	var (
		typical           bool
		firstOff, lastOff time.Duration // clock times of a plain day's first and last runs
		within            time.Duration // the longest gap inside a plain run day
		prevLast          time.Time
		gaps              int
	)
	for d, i := day(first), 0; i < 5000 && (d.Before(end) || gaps == 0); i++ {
		var dayFirst, dayLast time.Time
		if after(d).Sub(d) == 24*time.Hour && typical {
			dayFirst, dayLast = d.Add(firstOff), d.Add(lastOff)
			gap = max(gap, within)
		} else {
			runs := runsOn(d)
			if len(runs) == 0 {
				// daylight saving skipped this day's runs
				next := sched.Next(after(d).Add(-time.Second))
				if next.IsZero() {
					break
				}
				d = day(next)
				continue
			}
			var w time.Duration
			for j := 1; j < len(runs); j++ {
				w = max(w, runs[j].Sub(runs[j-1]))
			}
			gap = max(gap, w)
			dayFirst, dayLast = runs[0], runs[len(runs)-1]
			if after(d).Sub(d) == 24*time.Hour {
				typical, firstOff, lastOff, within = true, dayFirst.Sub(d), dayLast.Sub(d), w
			}
			if len(runs) > 1 {
				gaps++
			}
		}
		if !prevLast.IsZero() {
			gap = max(gap, dayFirst.Sub(prevLast))
			gaps++
		}
		prevLast = dayLast
		next := sched.Next(after(d).Add(-time.Second))
		if next.IsZero() {
			break
		}
		d = day(next)
	}
	if gaps == 0 {
		return 0, false
	}
	return gap, true
}
