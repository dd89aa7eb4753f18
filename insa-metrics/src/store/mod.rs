//! The series store under the collector: every family of the catalogue, its series found by exact label values, recorded without contention and written straight to text.

mod block;
mod buckets;
mod exemplar;
mod family;
mod handle;
mod interop;
pub(crate) mod key;
mod series;
mod settings;
mod typed;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub(crate) use block::{Block, BlockStripe, Member, my_stripe};
pub(crate) use exemplar::Exemplars;
pub use family::OVERFLOW_LABEL_VALUE;
pub(crate) use family::{Accounting, Admission, Family};
pub(crate) use handle::{HistogramHandle, SeriesHandle};
pub(crate) use interop::{family_collectors, gather_others};
#[cfg(test)]
pub(crate) use key::MAX_LABELS;
pub use key::{EMPTY_LABEL_VALUE, MAX_LABEL_VALUE_BYTES};
pub(crate) use series::{MAX_CELLS, Series};
pub use settings::{DEFAULT_CARDINALITY_LIMIT, DEFAULT_EXEMPLAR_INTERVAL, DEFAULT_IDLE_TIMEOUT};
pub(crate) use settings::{IdleClock, Settings};
pub(crate) use typed::{CounterFamily, GaugeFamily, HistogramFamily, InfoFamily};

use crate::catalogue::{self as cat, with_catalogue};
use crate::clock::Clock;

/// The store type of a family of the given kind.
macro_rules! family_type {
    (Counter) => {
        CounterFamily
    };
    (Gauge) => {
        GaugeFamily
    };
    (Histogram) => {
        HistogramFamily
    };
    (Info) => {
        InfoFamily
    };
}

/// Declares [`Families`]: a typed field per family of the catalogue table.
macro_rules! declare_families {
    (
        catalogue { $($(#[$doc:meta])* $field:ident: $constant:ident = $kind:ident(
            $name:literal, $help:literal, [$($label:literal),*], $buckets:tt);)+ }
        self_metrics { $($(#[$sdoc:meta])* $sfield:ident: $sconstant:ident = $skind:ident(
            $sname:literal, $shelp:literal, [$($slabel:literal),*], $sbuckets:tt);)+ }
    ) => {
        /// Every family of one collector, typed by kind: one field per entry of
        /// the catalogue table, then the self-metrics.
        #[derive(Debug)]
        pub(crate) struct Families {
            $($(#[$doc])* pub(crate) $field: family_type!($kind),)+
            $($(#[$sdoc])* pub(crate) $sfield: family_type!($skind),)+
        }

        impl Families {
            fn new(settings: &Settings) -> Self {
                let unlimited = Settings { limit: usize::MAX, idle_timeout: None, ..settings.clone() };
                $(let $sfield = <family_type!($skind)>::new(
                    Family::new(&cat::$sconstant, unlimited.clone(), None));)+
                let self_metrics = [$(&$sfield),+];
                let accounting = |spec: &'static cat::FamilySpec| accounting(spec, &self_metrics);
                Families {
                    $($field: <family_type!($kind)>::new(Family::new(
                        &cat::$constant, settings.clone(), Some(accounting(&cat::$constant)))),)+
                    $($sfield,)+
                }
            }

            /// Every family: the catalogue's, then the self-metrics.
            pub(crate) fn all(&self) -> Vec<&Family> {
                vec![$(&*self.$field,)+ $(&*self.$sfield,)+]
            }
        }
    };
}

with_catalogue!(declare_families);

/// Every family of the table fits the store: at most [`MAX_LABELS`] labels,
/// and a histogram's buckets, `+Inf` and sum (two cells) in [`MAX_CELLS`].
const LAYOUT_FITS: () = {
    let families = [cat::CATALOGUE, cat::SELF_METRICS];
    let mut f = 0;
    while f < families.len() {
        let mut i = 0;
        while i < families[f].len() {
            let spec = families[f][i];
            assert!(spec.labels().len() <= key::MAX_LABELS);
            assert!(spec.buckets().len() + 3 <= MAX_CELLS);
            i += 1;
        }
        f += 1;
    }
};
const _: () = LAYOUT_FITS;

/// The self-metric series one family counts its troubles in, from the
/// self-metric families.
fn accounting(spec: &'static cat::FamilySpec, self_metrics: &[&CounterFamily]) -> Accounting {
    let name = spec.name();
    let handle = |of: &cat::FamilySpec, values: &[&str]| {
        let family = self_metrics.iter().find(|family| family.spec() == of);
        match family {
            Some(family) => family.handle(values, Admission::Capped),
            None => unreachable!("the self-metrics are declared with the catalogue"),
        }
    };
    let invalid = |reason: &str| handle(&cat::INVALID_LABEL_VALUES_TOTAL, &[name, reason]);
    Accounting {
        overflowed: handle(&cat::LABEL_OVERFLOW_TOTAL, &[name]),
        empty: invalid(key::Invalid::Empty.reason()),
        too_long: invalid(key::Invalid::TooLong.reason()),
        not_snake_case: invalid(key::NOT_SNAKE_CASE_REASON),
        expired: handle(&cat::SERIES_EXPIRED_TOTAL, &[name]),
    }
}

/// The families of one collector, the clock its handles time with, and what
/// exemplars need to be written.
#[derive(Debug)]
pub(crate) struct Store {
    pub(crate) families: Families,
    /// Indexes into `families.all()`, in name order: the exposition's.
    by_name: Vec<usize>,
    pub(crate) clock: Clock,
    /// A clock reading and the Unix time it was taken at, to date exemplars.
    epoch: (u64, u64),
    /// Clock ticks between two exemplars of one slot.
    exemplar_interval: u64,
    /// Held while a block is made, so a call site's series lie in one.
    making_blocks: Mutex<()>,
}

impl Store {
    pub(crate) fn new(settings: &Settings, exemplar_interval: Duration, clock: Clock) -> Self {
        let families = Families::new(settings);
        let by_name = {
            let all = families.all();
            let mut by_name: Vec<usize> = (0..all.len()).collect();
            by_name.sort_by_key(|&i| all[i].spec().name());
            by_name
        };
        let unix_nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
            });
        let epoch = (clock.now().raw(), unix_nanos);
        let exemplar_interval = clock.ticks_for(exemplar_interval);
        Store {
            families,
            by_name,
            clock,
            epoch,
            exemplar_interval,
            making_blocks: Mutex::new(()),
        }
    }

    /// The block a call site's series (`members`, the first one the anchor)
    /// record through, side by side in this order: the one they lie in, or a
    /// new one. `None` if they cannot lie in one (too wide, or some lie in
    /// another block): the site then records into their compact cells.
    ///
    /// Every site of the same labels names the same series, in the same
    /// order; the series of a block are never expired, so once placed they
    /// are found in it again.
    pub(crate) fn block(&self, members: &[Member<'_>]) -> Option<Block> {
        let _making = self
            .making_blocks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let offsets: Vec<usize> = members
            .iter()
            .scan(0, |next, member| {
                let offset = *next;
                *next += member.series.width();
                Some(offset)
            })
            .collect();
        let width: usize = members.iter().map(|member| member.series.width()).sum();
        if width > block::BLOCK_CELLS {
            return None;
        }
        let block = match members.first()?.series.striped() {
            Some(anchor) => Arc::clone(&anchor.block),
            None => block::new_block(),
        };
        // All placed there already, or none placed anywhere.
        let here = |series: &Series, offset: usize| {
            series.striped().is_some_and(|striped| {
                Arc::ptr_eq(&striped.block, &block) && striped.offset == offset
            })
        };
        let pairs = || members.iter().zip(offsets.iter().copied());
        if !pairs().all(|(member, offset)| here(member.series, offset))
            && !pairs().all(|(member, _)| member.series.striped().is_none())
        {
            return None;
        }
        for (member, offset) in pairs() {
            let ticks = member.ticks_cell.map(|cell| (cell, self.clock.clone()));
            member.series.place(&block, offset, ticks);
        }
        Some(block)
    }

    /// The families in exposition (name) order.
    pub(crate) fn families_by_name(&self) -> impl Iterator<Item = &Family> {
        let all = self.families.all();
        self.by_name.iter().map(move |&i| all[i])
    }

    /// Clock ticks between two exemplars of one slot.
    pub(crate) fn exemplar_interval(&self) -> u64 {
        self.exemplar_interval
    }

    /// The Unix time, in nanoseconds, of a clock reading.
    pub(crate) fn unix_nanos(&self, tick: u64) -> u64 {
        let (epoch_tick, epoch_unix) = self.epoch;
        epoch_unix.saturating_add(self.clock.nanos_between(epoch_tick, tick))
    }
}
