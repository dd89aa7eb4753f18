//! The three attributes: their names, argument keys and runtime site types.

/// Which attribute is being expanded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Request,
    Database,
    Message,
}

impl Kind {
    /// Every attribute.
    pub(crate) const ALL: [Kind; 3] = [Kind::Request, Kind::Database, Kind::Message];

    /// Which of the three attributes this is, however its path is written.
    pub(crate) fn of(attr: &syn::Attribute) -> Option<Kind> {
        let name = &attr.path().segments.last()?.ident;
        Kind::ALL.into_iter().find(|kind| name == kind.name())
    }

    /// The attribute's name, for messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Request => "track_request_metrics",
            Kind::Database => "track_database_operation",
            Kind::Message => "track_message_processing",
        }
    }

    /// The argument keys, in positional order.
    pub(crate) fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Request | Kind::Message => &["agent_type"],
            Kind::Database => &["operation", "table"],
        }
    }

    /// A correct use of the attribute, for messages.
    pub(crate) fn example(self) -> &'static str {
        match self {
            Kind::Request => r#"#[track_request_metrics("sizing_agent")]"#,
            Kind::Database => r#"#[track_database_operation("select", "users")]"#,
            Kind::Message => r#"#[track_message_processing("orchestrator")]"#,
        }
    }

    /// The type in `insa_metrics::__private` behind one call site.
    pub(crate) fn site_type(self) -> &'static str {
        match self {
            Kind::Request => "RequestSite",
            Kind::Database => "DatabaseSite",
            Kind::Message => "MessageSite",
        }
    }

    /// Whether the outcome of the call is recorded (the message histogram
    /// only needs the time).
    pub(crate) fn records_outcome(self) -> bool {
        !matches!(self, Kind::Message)
    }
}
