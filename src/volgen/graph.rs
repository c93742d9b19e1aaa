//! An xlator graph as glusterd holds it while it builds a volfile, and its text form.
//!
//! Two details of glusterd's in-memory structures decide the bytes of a volfile, so this
//! module reproduces them:
//!
//! - **Xlator order.** Every xlator glusterd creates becomes the new "first" of the graph, and
//!   the volfile lists the graph from the oldest xlator to the newest. [`Graph`] keeps the
//!   xlators in creation order, so it prints them as they are stored.
//! - **Option order.** An xlator's options live in a dict that puts a new key in front of the
//!   ones already there and overwrites the value of an existing key where it stands. The
//!   volfile lists them from the front, so options come out newest first, and a key set twice
//!   keeps the place of its first setting. [`Xlator::set`] behaves the same way.

/// One translator: `volume <name>`, `type <type>`, its options and its children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Xlator {
    /// `volume` name, unique in the graph.
    pub(super) name: String,
    /// `type`, such as `protocol/client`.
    pub(super) xl_type: String,
    /// Options in print order (newest key first).
    options: Vec<(String, String)>,
    /// Names of the children (`subvolumes`), in order.
    pub(super) children: Vec<String>,
}

impl Xlator {
    /// Sets an option with glusterd's dict rules: a new key goes in front, an existing key keeps
    /// its place and takes the new value.
    pub(super) fn set(&mut self, key: &str, value: &str) {
        match self.options.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value.to_owned(),
            None => self.options.insert(0, (key.to_owned(), value.to_owned())),
        }
    }

    /// The value of an option, if set.
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A graph under construction: xlators in creation order, the newest last.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Graph {
    xlators: Vec<Xlator>,
}

impl Graph {
    /// An empty graph.
    pub(super) fn new() -> Graph {
        Graph::default()
    }

    /// Adds an xlator with no children (glusterd's "add without linking").
    pub(super) fn add_unlinked(&mut self, xl_type: &str, name: &str) -> &mut Xlator {
        self.push(Xlator {
            name: name.to_owned(),
            xl_type: xl_type.to_owned(),
            options: Vec::new(),
            children: Vec::new(),
        })
    }

    /// Adds an xlator on top of the newest one, which becomes its only child.
    pub(super) fn add_on_top(&mut self, xl_type: &str, name: &str) -> &mut Xlator {
        let children = self
            .xlators
            .last()
            .map(|top| vec![top.name.clone()])
            .unwrap_or_default();
        self.push(Xlator {
            name: name.to_owned(),
            xl_type: xl_type.to_owned(),
            options: Vec::new(),
            children,
        })
    }

    /// Adds an xlator with the given children.
    pub(super) fn add_with_children(
        &mut self,
        xl_type: &str,
        name: &str,
        children: Vec<String>,
    ) -> &mut Xlator {
        self.push(Xlator {
            name: name.to_owned(),
            xl_type: xl_type.to_owned(),
            options: Vec::new(),
            children,
        })
    }

    /// Adds `<volume>-<last part of the type>` on top, glusterd's usual way of naming a
    /// feature or performance xlator (`performance/md-cache` → `v-md-cache`).
    pub(super) fn add_named_after_type(&mut self, xl_type: &str, volume: &str) -> &mut Xlator {
        let short = xl_type.rsplit('/').next().unwrap_or(xl_type);
        let name = format!("{volume}-{short}");
        self.add_on_top(xl_type, &name)
    }

    fn push(&mut self, xlator: Xlator) -> &mut Xlator {
        let index = self.xlators.len();
        self.xlators.push(xlator);
        &mut self.xlators[index]
    }

    /// Sets an option on every xlator of a type (glusterd's handling of a volume option that
    /// maps onto an xlator option).
    /// The name of the xlator added last (the top of the graph so far).
    pub(super) fn top_name(&self) -> Option<String> {
        self.xlators.last().map(|x| x.name.clone())
    }

    pub(super) fn set_on_type(&mut self, xl_type: &str, key: &str, value: &str) {
        for xlator in self.xlators.iter_mut().filter(|x| x.xl_type == xl_type) {
            xlator.set(key, value);
        }
    }

    /// The newest xlator of a type, if any.
    pub(super) fn last_of_type_mut(&mut self, xl_type: &str) -> Option<&mut Xlator> {
        self.xlators.iter_mut().rev().find(|x| x.xl_type == xl_type)
    }

    /// The volfile text: each xlator as a `volume … end-volume` block, oldest first, with a
    /// blank line between blocks and none after the last.
    pub(super) fn render(&self) -> String {
        let blocks: Vec<String> = self.xlators.iter().map(render_xlator).collect();
        blocks.join("\n")
    }
}

fn render_xlator(xlator: &Xlator) -> String {
    let mut text = format!("volume {}\n    type {}\n", xlator.name, xlator.xl_type);
    for (key, value) in &xlator.options {
        text.push_str(&format!("    option {key} {value}\n"));
    }
    if !xlator.children.is_empty() {
        text.push_str("    subvolumes");
        for child in &xlator.children {
            text.push(' ');
            text.push_str(child);
        }
        text.push('\n');
    }
    text.push_str("end-volume\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_options_go_first_and_overwrites_keep_their_place() {
        let mut graph = Graph::new();
        let xl = graph.add_unlinked("features/x", "v-x");
        xl.set("a", "1");
        xl.set("b", "2");
        xl.set("a", "3");
        assert_eq!(
            graph.render(),
            "volume v-x\n    type features/x\n    option b 2\n    option a 3\nend-volume\n"
        );
    }

    #[test]
    fn xlators_print_oldest_first_with_blank_lines_between() {
        let mut graph = Graph::new();
        graph.add_unlinked("storage/posix", "v-posix");
        graph.add_named_after_type("features/locks", "v");
        assert_eq!(
            graph.render(),
            "volume v-posix\n    type storage/posix\nend-volume\n\n\
             volume v-locks\n    type features/locks\n    subvolumes v-posix\nend-volume\n"
        );
    }
}
