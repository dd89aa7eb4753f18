//! Under a renamed import, the impl block's attribute does not see `skip`
//! as its own marker: the error says to write the full path.
use insa_metrics::track_request_metrics as track;

struct Store;

#[track("crm_agent")]
impl Store {
    fn get(&self) -> u32 {
        1
    }

    #[track(skip)]
    fn len(&self) -> u32 {
        0
    }
}

fn main() {
    let _ = (Store.get(), Store.len());
}
