//! `callpop import customers FILE.csv`: customers, their contacts and phone
//! numbers from a CSV file, all of it or nothing.
//!
//! The first row names the columns. `customer` comes first; the others are
//! optional and may come in any order:
//!
//! - `customer`: the customer's name, on every row. Rows with the same name
//!   make one customer.
//! - `contact`: a person at the customer. Rows with the same customer and
//!   contact make one contact. When empty, the row's number is the
//!   customer's own, a switchboard for example.
//! - `email`: the contact's email address; needs a contact.
//! - `phone`: a number as people write it: `+44 20 7946 0018`,
//!   `0049 30 1234567`, `(555) 010-1234 ext. 7`.
//! - `kind`: `work` (the default), `mobile`, `home`, `fax` or `other`;
//!   needs a phone.
//! - `region`: the country of a number written without its code (`US`,
//!   `DE`, `IT`...); `phone.home_region` when empty.
//! - `notes`: notes on the customer; notes from several rows are kept one
//!   per line.
//!
//! Fields are trimmed and a UTF-8 byte order mark is ignored. Every row that
//! cannot be read is reported with its line number and why, and then nothing
//! is written. An import always creates customers: importing one file twice
//! stores each customer twice, because two customers may share a name.

use std::collections::HashMap;
use std::io::Read;

use crate::lookup::{Normalizer, Region};
use crate::store::customers::{NewContact, NewCustomer, NewNumber, NumberKind, UnknownKind};
use crate::store::Store;

/// The column names, as the header row writes them.
const COLUMNS: &[&str] = &[
    "customer", "contact", "email", "phone", "kind", "region", "notes",
];

/// How much was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub customers: usize,
    pub contacts: usize,
    pub numbers: usize,
}

/// A row that cannot be imported; line 1 is the header.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct RowError {
    pub line: u64,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("failed to read the file")]
    Read(#[source] std::io::Error),
    /// Every bad row, in file order; nothing was written.
    #[error("{}", describe_rows(.0))]
    Rows(Vec<RowError>),
    #[error("failed to write customers")]
    Store(#[source] anyhow::Error),
}

fn describe_rows(rows: &[RowError]) -> String {
    let mut text = match rows.len() {
        1 => "1 row cannot be imported, nothing was written".to_string(),
        n => format!("{n} rows cannot be imported, nothing was written"),
    };
    for row in rows {
        text.push_str(&format!("\n  {row}"));
    }
    text
}

/// Reads customers from CSV in `reader` and stores them in one transaction.
/// Numbers written without a country code are read in the row's `region`,
/// or the normaliser's home region.
pub async fn import_customers(
    store: &Store,
    normalizer: &Normalizer,
    mut reader: impl Read,
) -> Result<ImportReport, ImportError> {
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).map_err(ImportError::Read)?;
    let customers = read_customers(&bytes, normalizer).map_err(ImportError::Rows)?;

    let report = ImportReport {
        customers: customers.len(),
        contacts: customers.iter().map(|c| c.contacts.len()).sum(),
        numbers: customers.iter().map(count_numbers).sum(),
    };
    store
        .insert_customers(&customers)
        .await
        .map_err(ImportError::Store)?;
    tracing::info!(
        customers = report.customers,
        contacts = report.contacts,
        numbers = report.numbers,
        "customers imported"
    );
    Ok(report)
}

fn count_numbers(customer: &NewCustomer) -> usize {
    customer.numbers.len()
        + customer
            .contacts
            .iter()
            .map(|c| c.numbers.len())
            .sum::<usize>()
}

/// Every customer in the file, or every row that is wrong with it.
fn read_customers(
    bytes: &[u8],
    normalizer: &Normalizer,
) -> Result<Vec<NewCustomer>, Vec<RowError>> {
    let open_quote = unclosed_quote(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let columns = match reader.headers() {
        Ok(header) => Columns::from_header(header),
        Err(e) => Err(csv_reason(&e)),
    }
    .map_err(|reason| vec![RowError { line: 1, reason }])?;

    let mut errors = Vec::new();
    let mut customers = Customers::default();
    for record in reader.records() {
        let line = match &record {
            Ok(record) => record.position().map_or(0, |p| p.line()),
            Err(e) => e.position().map_or(0, |p| p.line()),
        };
        // After an unclosed quote, the csv reader has swallowed the rest of
        // the file into one field: no later row can be read.
        if open_quote.is_some_and(|open| line >= open) {
            break;
        }
        let added = record
            .map_err(|e| csv_reason(&e))
            .and_then(|record| columns.read(&record, normalizer))
            .and_then(|row| customers.add(row));
        if let Err(reason) = added {
            errors.push(RowError { line, reason });
        }
    }

    if let Some(line) = open_quote {
        let reason = "unclosed quote: the field runs to the end of the file".to_string();
        errors.push(RowError { line, reason });
    }
    if errors.is_empty() {
        Ok(customers.list)
    } else {
        Err(errors)
    }
}

fn csv_reason(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8 text".to_string(),
        _ => format!("cannot read the row: {error}"),
    }
}

/// The line where a quoted field opens and never closes, if one does.
/// Quotes inside an unquoted field are text, as the csv reader takes them.
fn unclosed_quote(bytes: &[u8]) -> Option<u64> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut line = 1;
    let mut open = None;
    let mut field_start = true;
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        match (open, byte) {
            // Two quotes inside a quoted field are one quote of text.
            (Some(_), b'"') if bytes.get(i + 1) == Some(&b'"') => i += 1,
            (Some(_), b'"') => open = None,
            (None, b'"') if field_start => open = Some(line),
            _ => {}
        }
        if byte == b'\n' {
            line += 1;
        }
        field_start = open.is_none() && matches!(byte, b',' | b'\n' | b'\r');
        i += 1;
    }
    open
}

/// Where each column is in a row.
struct Columns {
    width: usize,
    index: HashMap<&'static str, usize>,
}

/// One row, read and checked.
struct Row {
    customer: String,
    contact: String,
    email: String,
    number: Option<NewNumber>,
    notes: String,
}

impl Columns {
    fn from_header(header: &csv::StringRecord) -> Result<Columns, String> {
        if header.get(0).map(str::to_ascii_lowercase).as_deref() != Some("customer") {
            return Err(format!(
                "the header must name the columns, customer first: {}",
                COLUMNS.join(",")
            ));
        }

        let mut index = HashMap::new();
        for (at, name) in header.iter().enumerate() {
            let lower = name.to_ascii_lowercase();
            let Some(known) = COLUMNS.iter().find(|c| **c == lower) else {
                return Err(format!(
                    "unknown column {name:?}; columns are {}",
                    COLUMNS.join(",")
                ));
            };
            if index.insert(*known, at).is_some() {
                return Err(format!("column {name:?} appears twice"));
            }
        }
        Ok(Columns {
            width: header.len(),
            index,
        })
    }

    /// The field of `column` in `record`, empty when the file has no such column.
    fn field<'r>(&self, record: &'r csv::StringRecord, column: &str) -> &'r str {
        self.index
            .get(column)
            .and_then(|at| record.get(*at))
            .unwrap_or("")
    }

    fn read(&self, record: &csv::StringRecord, normalizer: &Normalizer) -> Result<Row, String> {
        if record.len() != self.width {
            return Err(format!(
                "expected {} fields, found {}",
                self.width,
                record.len()
            ));
        }
        for column in ["customer", "contact", "email", "phone", "kind", "region"] {
            if self.field(record, column).contains('\n') {
                return Err(format!(
                    "line break in the {column} field; is a quote left open?"
                ));
            }
        }

        let customer = self.field(record, "customer");
        let contact = self.field(record, "contact");
        let email = self.field(record, "email");
        if customer.is_empty() {
            return Err("empty customer name".to_string());
        }
        if !email.is_empty() && contact.is_empty() {
            return Err(format!("email {email:?} needs a contact"));
        }
        if !email.is_empty() && !email.contains('@') {
            return Err(format!("email {email:?} has no @"));
        }

        Ok(Row {
            customer: customer.to_string(),
            contact: contact.to_string(),
            email: email.to_string(),
            number: self.number(record, normalizer)?,
            notes: self.field(record, "notes").to_string(),
        })
    }

    fn number(
        &self,
        record: &csv::StringRecord,
        normalizer: &Normalizer,
    ) -> Result<Option<NewNumber>, String> {
        let (phone, kind) = (self.field(record, "phone"), self.field(record, "kind"));
        if phone.is_empty() && !kind.is_empty() {
            return Err("kind given without a phone".to_string());
        }
        let kind: NumberKind = match kind {
            "" => NumberKind::default(),
            kind => kind.parse().map_err(|e: UnknownKind| e.to_string())?,
        };
        let region = match self.field(record, "region") {
            "" => normalizer.home(),
            code => code.parse::<Region>().map_err(|e| e.to_string())?,
        };
        if phone.is_empty() {
            return Ok(None);
        }
        let number = normalizer.check(phone, region).map_err(|e| e.to_string())?;
        Ok(Some(NewNumber { number, kind }))
    }
}

/// Customers as the rows build them, in the order they first appear.
#[derive(Default)]
struct Customers {
    list: Vec<NewCustomer>,
    by_name: HashMap<String, usize>,
    contacts: HashMap<(usize, String), usize>,
}

impl Customers {
    fn add(&mut self, row: Row) -> Result<(), String> {
        let at = *self.by_name.entry(row.customer.clone()).or_insert_with(|| {
            let customer = NewCustomer {
                name: row.customer.clone(),
                ..NewCustomer::default()
            };
            self.list.push(customer);
            self.list.len() - 1
        });
        let customer = &mut self.list[at];
        if !row.notes.is_empty() && !customer.notes.lines().any(|l| l == row.notes) {
            if !customer.notes.is_empty() {
                customer.notes.push('\n');
            }
            customer.notes.push_str(&row.notes);
        }
        if row.contact.is_empty() {
            customer.numbers.extend(row.number);
            return Ok(());
        }

        let contact_at = *self
            .contacts
            .entry((at, row.contact.clone()))
            .or_insert_with(|| {
                let contact = NewContact {
                    name: row.contact.clone(),
                    ..NewContact::default()
                };
                customer.contacts.push(contact);
                customer.contacts.len() - 1
            });
        let contact = &mut customer.contacts[contact_at];
        if !row.email.is_empty() && !contact.email.is_empty() && contact.email != row.email {
            return Err(format!(
                "contact {:?} already has email {:?}",
                contact.name, contact.email
            ));
        }
        if !row.email.is_empty() {
            contact.email = row.email;
        }
        contact.numbers.extend(row.number);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookup::{Lookup, Reason};
    use crate::store::customers::testing::{postgres, sqlite};
    use crate::store::customers::Page;

    const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/customers.csv");

    fn us() -> Normalizer {
        Normalizer::new("US").unwrap()
    }

    /// The rows `csv` is refused for, as `"line N: reason"`.
    async fn refused(csv: &str) -> Vec<String> {
        let db = sqlite().await;
        let err = import_customers(&db.store, &us(), csv.as_bytes())
            .await
            .unwrap_err();
        let ImportError::Rows(rows) = err else {
            panic!("not a row error: {err:?}")
        };
        assert!(db
            .store
            .search_customers("", Page::default())
            .await
            .unwrap()
            .is_empty());
        rows.iter().map(ToString::to_string).collect()
    }

    async fn check_example(store: &Store) {
        let file = std::fs::File::open(EXAMPLE).unwrap();
        let report = import_customers(store, &us(), file).await.unwrap();
        assert_eq!(
            report,
            ImportReport {
                customers: 8,
                contacts: 9,
                numbers: 15
            }
        );

        let lookup = Lookup::new(store.clone(), us());
        for (caller, customer, contact) in [
            ("+15550101234", "Lakeside Supplies", ""),
            ("+49301234567", "Berlin Customer GmbH", "Jonas Albrecht"),
            ("011 44 20 7946 0018", "London Partner Ltd", "Priya Shah"),
            ("+390612345678", "Roma Ricambi SRL", "Giulia Conti"),
            ("+61491570006", "Harbour & Sons, Pty Ltd", "Mia Nguyen"),
            ("+33199001234", "Atelier Lumière", "Camille Roux"),
            ("+41446681800", "Bergwerk AG", "Lukas Meier"),
            ("306-555-0147", "Prairie Feed Co", ""),
        ] {
            let outcome = lookup.find(caller).await.unwrap();
            let first = outcome
                .matches
                .first()
                .unwrap_or_else(|| panic!("{caller} matched no one"));
            assert_eq!(first.customer_name, customer, "{caller}");
            assert_eq!(
                first.contact_name.as_deref().unwrap_or(""),
                contact,
                "{caller}"
            );
            assert_eq!(first.reason, Reason::Exact, "{caller}");
        }

        // Dana's extension 7 shares the switchboard's number: both are shown.
        let outcome = lookup.find("+1 555 010 1234").await.unwrap();
        let who: Vec<_> = outcome
            .matches
            .iter()
            .map(|m| m.contact_name.as_deref())
            .collect();
        assert_eq!(who, [None, Some("Dana Whitfield")]);

        let found = store
            .search_customers("lakeside", Page::default())
            .await
            .unwrap();
        let customer = store.customer(found[0].id).await.unwrap().unwrap();
        assert_eq!(customer.notes, "Main switchboard; ask for the warehouse");
        assert_eq!((customer.contacts.len(), customer.numbers.len()), (2, 4));
        assert_eq!(customer.contacts[0].email, "dana@lakeside.example");
    }

    #[tokio::test]
    async fn example_file_imports_on_sqlite() {
        check_example(&sqlite().await.store).await;
    }

    #[tokio::test]
    async fn example_file_imports_on_postgres() {
        let Some(db) = postgres().await else { return };
        check_example(&db.store).await;
    }

    #[tokio::test]
    async fn every_bad_row_is_reported_and_nothing_written() {
        let csv = "customer,contact,email,phone,kind,region,notes\n\
                   Good Co,,,+1 212 555 0100,,,\n\
                   Ragged Co,,,+1 212 555 0101,,,,extra\n\
                   ,Nobody,,,,,\n\
                   Letters Co,,,1-800-FLOWERS,,,\n\
                   Empty Co,,,n/a,,,\n\
                   Kind Co,,,+1 212 555 0102,pager,,\n\
                   Region Co,,,212 555 0103,,XX,\n\
                   Mail Co,,ann@mail.example,212 555 0104,,,\n\
                   Short Co\n";
        assert_eq!(
            refused(csv).await,
            [
                "line 3: expected 7 fields, found 8",
                "line 4: empty customer name",
                "line 5: unexpected text \"FLOWERS\" in \"1-800-FLOWERS\"",
                "line 6: no digits in \"n/a\"",
                "line 7: unknown kind \"pager\": expected work, mobile, home, fax or other",
                "line 8: unknown region code \"XX\": expected two letters such as US, DE or IT",
                "line 9: email \"ann@mail.example\" needs a contact",
                "line 10: expected 7 fields, found 1",
            ]
        );
    }

    #[tokio::test]
    async fn unclosed_quote_is_reported_where_it_opens() {
        let csv =
            "customer,phone\nGood Co,+1 212 555 0100\n\"Open Co,+1 212 555 0101\nLater Co,1\n";
        assert_eq!(
            refused(csv).await,
            ["line 3: unclosed quote: the field runs to the end of the file"]
        );

        // Quotes that open and close, even over lines, are fine.
        let db = sqlite().await;
        let csv = "customer,phone,notes\n\"Quote \"\"Co\"\"\",212 555 0100,\"two\nlines\"\n";
        let report = import_customers(&db.store, &us(), csv.as_bytes())
            .await
            .unwrap();
        assert_eq!(
            report,
            ImportReport {
                customers: 1,
                contacts: 0,
                numbers: 1
            }
        );
        let found = db
            .store
            .search_customers("quote", Page::default())
            .await
            .unwrap();
        assert_eq!(found[0].name, "Quote \"Co\"");
    }

    #[tokio::test]
    async fn header_is_required_and_checked() {
        assert_eq!(
            refused("Acme,+1 212 555 0100\n").await,
            ["line 1: the header must name the columns, customer first: \
              customer,contact,email,phone,kind,region,notes"]
        );
        assert_eq!(
            refused("customer,telephone\n").await,
            ["line 1: unknown column \"telephone\"; columns are \
              customer,contact,email,phone,kind,region,notes"]
        );
        assert_eq!(refused("").await.len(), 1);
    }

    #[tokio::test]
    async fn byte_order_mark_and_any_column_order_are_fine() {
        let db = sqlite().await;
        let csv = "\u{feff}Customer,Region,Phone,Contact\nAcme,DE,030 1234567,Ann\nAcme,,,Bob\n";
        let report = import_customers(&db.store, &us(), csv.as_bytes())
            .await
            .unwrap();
        assert_eq!(
            report,
            ImportReport {
                customers: 1,
                contacts: 2,
                numbers: 1
            }
        );
        let lookup = Lookup::new(db.store.clone(), us());
        let outcome = lookup.find("+49 30 1234567").await.unwrap();
        assert_eq!(outcome.matches[0].contact_name.as_deref(), Some("Ann"));
    }

    #[tokio::test]
    async fn conflicting_emails_for_one_contact_are_refused() {
        let csv = "customer,contact,email\nAcme,Ann,ann@a.example\nAcme,Ann,ann@b.example\n";
        assert_eq!(
            refused(csv).await,
            ["line 3: contact \"Ann\" already has email \"ann@a.example\""]
        );
    }
}
