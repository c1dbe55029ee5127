//! The column index (each page's min/max and null count) of a column chunk copied or filtered as
//! stored pages, made from the input's: a page copied keeps its entry as it is; a filtered page
//! keeps its min/max, which stay bounds of what is left, with its null count made exact; a page
//! left out loses its entry. So a reader that prunes pages by value (DataFusion, parquet-rs,
//! Spark) does so on the output as on the input, which the rewrite route gives too.

use parquet::basic::{BoundaryOrder, Type as PhysicalType};
use parquet::data_type::AsBytes;
use parquet::file::metadata::ColumnIndexBuilder;
use parquet::file::page_index::column_index::ColumnIndexMetaData;

/// One output page: which input page it came from, and for a filtered page its rows and nulls.
struct Entry {
    page: usize,
    filtered: Option<(i64, i64)>,
}

/// The output's column index, built page by page from the input's.
pub(super) struct PageBounds<'a> {
    input: &'a ColumnIndexMetaData,
    physical: PhysicalType,
    entries: Vec<Entry>,
}

impl<'a> PageBounds<'a> {
    /// From `input`, the input chunk's column index, if it has one with null counts (without
    /// them no exact count can be given for a filtered page).
    pub(super) fn new(input: Option<&'a ColumnIndexMetaData>, physical: PhysicalType) -> Option<Self> {
        let input = input.filter(|index| index.null_counts().is_some())?;
        Some(PageBounds { input, physical, entries: Vec::new() })
    }

    /// Input page `page` is written as it is stored.
    pub(super) fn copied(&mut self, page: usize) {
        self.entries.push(Entry { page, filtered: None });
    }

    /// Input page `page` is written with `rows` of its rows, `nulls` of them null.
    pub(super) fn filtered(&mut self, page: usize, rows: usize, nulls: usize) {
        self.entries.push(Entry { page, filtered: Some((rows as i64, nulls as i64)) });
    }

    /// The column index of the written pages, if the input's has an entry for each of its
    /// `pages` data pages. NaN counts and level histograms are kept only if every page was
    /// copied (a filtered page's would have to be counted again).
    pub(super) fn finish(self, pages: usize) -> Option<ColumnIndexMetaData> {
        if self.input.num_pages() != pages as u64 {
            return None;
        }
        let exact = self.entries.iter().all(|entry| entry.filtered.is_none());
        let mut builder = ColumnIndexBuilder::new(self.physical);
        builder.set_boundary_order(self.input.get_boundary_order().unwrap_or(BoundaryOrder::UNORDERED));
        for entry in &self.entries {
            let page = entry.page;
            let (min, max) = bounds(self.input, page);
            let nan_count = if exact { self.input.nan_count(page) } else { None };
            match entry.filtered {
                None => {
                    let null_page = self.input.is_null_page(page);
                    builder.append(null_page, min, max, self.input.null_count(page)?, nan_count);
                }
                // All that is left of it is null: a null page, with no bounds.
                Some((rows, nulls)) if nulls == rows => builder.append(true, Vec::new(), Vec::new(), nulls, None),
                Some((_, nulls)) => builder.append(false, min, max, nulls, None),
            }
            if exact {
                let histogram = |h: Option<&[i64]>| h.map(|h| h.to_vec().into());
                builder.append_histograms(
                    &histogram(self.input.repetition_level_histogram(page)),
                    &histogram(self.input.definition_level_histogram(page)),
                );
            }
        }
        builder.build().ok()
    }
}

/// Page `page`'s min and max in `index`, as plain-encoded bytes (empty for a null page).
fn bounds(index: &ColumnIndexMetaData, page: usize) -> (Vec<u8>, Vec<u8>) {
    fn plain<T: AsBytes + ?Sized>(value: Option<&T>) -> Vec<u8> {
        value.map(|v| v.as_bytes().to_vec()).unwrap_or_default()
    }
    match index {
        ColumnIndexMetaData::BOOLEAN(i) => (plain(i.min_value(page)), plain(i.max_value(page))),
        ColumnIndexMetaData::INT32(i) => (plain(i.min_value(page)), plain(i.max_value(page))),
        ColumnIndexMetaData::INT64(i) => (plain(i.min_value(page)), plain(i.max_value(page))),
        ColumnIndexMetaData::INT96(i) => (plain(i.min_value(page)), plain(i.max_value(page))),
        ColumnIndexMetaData::FLOAT(i) => (plain(i.min_value(page)), plain(i.max_value(page))),
        ColumnIndexMetaData::DOUBLE(i) => (plain(i.min_value(page)), plain(i.max_value(page))),
        ColumnIndexMetaData::BYTE_ARRAY(i) | ColumnIndexMetaData::FIXED_LEN_BYTE_ARRAY(i) => {
            (plain(i.min_value(page)), plain(i.max_value(page)))
        }
    }
}
