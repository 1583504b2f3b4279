//! Performance assessments: `assessment.result`.

use super::{rule, schema, Cx, Stop};
use crate::body::AssessmentResult;
use crate::domain::{Index, SubjectType};
use crate::ident;
use crate::state::tables::{contains, Orgs};

impl Cx<'_> {
    pub(super) fn assessment(&mut self) -> Result<(), Stop> {
        let b: AssessmentResult = self.body()?;
        if b.period_start > b.period_end {
            return Err(rule("period_start is after period_end"));
        }
        match b.subject_type {
            SubjectType::Org => {
                if !contains::<Orgs>(self.state, &b.subject)? {
                    return Err(rule(format!("no org {}", b.subject)));
                }
                if b.subject == self.st.issuer {
                    return Err(rule("an assessor may not assess itself"));
                }
            }
            SubjectType::Fund => {
                if self.fund(&b.subject)?.owner == self.st.issuer {
                    return Err(rule("an assessor may not assess a fund it owns"));
                }
            }
            SubjectType::Region => {
                if !ident::is_region(&b.subject) {
                    return Err(schema(
                        "/statement/body/subject: a region subject is 6 digits",
                    ));
                }
            }
        }
        self.index(Index::Assessment, &b.subject);
        let rec = self.entry_rec();
        self.put_entry(&rec);
        Ok(())
    }
}
