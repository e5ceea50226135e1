//! `XmlFragment`, `XmlElement` and `XmlText`, and the bodies of their child-node methods.

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use yrs::branch::BranchPtr;
use yrs::{
    GetString, Text as _, TextRef, Xml as _, XmlElementPrelim, XmlElementRef, XmlFragment as _,
    XmlFragmentRef, XmlOut, XmlTextPrelim, XmlTextRef,
};

use super::{check_index, check_range, wrap_new};
use crate::js::error::ApiResult;
use crate::js::shared::DocShared;
use crate::js::ts::{opt_string, opt_uint, string, uint, NumberArg, StringArg};
use crate::js::types::observe;
use yrs::Out;

/// The bodies of the child-node methods (see `xml_children!`), on an [`XmlFragmentRef`] view.
pub(crate) mod xml_ops {
    use super::*;

    pub(crate) fn insert_element(
        shared: &Rc<DocShared>,
        xml: &XmlFragmentRef,
        index: &JsValue,
        node_name: &JsValue,
    ) -> ApiResult<JsValue> {
        let index = uint(index, "index")?;
        let node_name = string(node_name, "nodeName")?;
        let xml = shared.edit(|txn| {
            check_index(index, xml.len(txn))?;
            Ok(xml.insert(txn, index, XmlElementPrelim::empty(node_name.as_str())))
        })?;
        Ok(wrap_new(shared, Out::YXmlElement(xml)))
    }

    pub(crate) fn insert_text(
        shared: &Rc<DocShared>,
        xml: &XmlFragmentRef,
        index: &JsValue,
        content: Option<StringArg>,
    ) -> ApiResult<JsValue> {
        let index = uint(index, "index")?;
        let content = opt_string(content, "content")?;
        let text = shared.edit(|txn| {
            check_index(index, xml.len(txn))?;
            Ok(xml.insert(txn, index, XmlTextPrelim::new(content.unwrap_or_default())))
        })?;
        Ok(wrap_new(shared, Out::YXmlText(text)))
    }

    pub(crate) fn delete(
        shared: &Rc<DocShared>,
        xml: &XmlFragmentRef,
        index: &JsValue,
        length: Option<NumberArg>,
    ) -> ApiResult<()> {
        let index = uint(index, "index")?;
        let length = opt_uint(length, "length", 1)?;
        shared.edit(|txn| {
            check_range(index, length, xml.len(txn))?;
            xml.remove_range(txn, index, length);
            Ok(())
        })
    }

    pub(crate) fn get(
        shared: &Rc<DocShared>,
        xml: &XmlFragmentRef,
        index: &JsValue,
    ) -> ApiResult<JsValue> {
        let index = uint(index, "index")?;
        let txn = shared.read()?;
        Ok(xml
            .get(&txn, index)
            .map_or(JsValue::UNDEFINED, |x| xml_out_to_js(shared, x)))
    }

    pub(crate) fn to_array(
        shared: &Rc<DocShared>,
        xml: &XmlFragmentRef,
    ) -> ApiResult<js_sys::Array> {
        let txn = shared.read()?;
        Ok(xml
            .children(&txn)
            .map(|x| xml_out_to_js(shared, x))
            .collect())
    }
}

/// A shared XML fragment (`Y.XmlFragment`): a list of elements and text nodes.
#[wasm_bindgen]
pub struct XmlFragment {
    shared: Rc<DocShared>,
    xml: XmlFragmentRef,
}

impl XmlFragment {
    pub(crate) fn new(shared: Rc<DocShared>, xml: XmlFragmentRef) -> Self {
        XmlFragment { shared, xml }
    }

    fn fragment_ref(&self) -> XmlFragmentRef {
        self.xml.clone()
    }
}

observable!(XmlFragment, XmlFragment, xml);
xml_children!(XmlFragment, XmlFragment);

/// A shared XML element (`Y.XmlElement`): a name, attributes and child nodes.
#[wasm_bindgen]
pub struct XmlElement {
    shared: Rc<DocShared>,
    xml: XmlElementRef,
}

impl XmlElement {
    pub(crate) fn new(shared: Rc<DocShared>, xml: XmlElementRef) -> Self {
        XmlElement { shared, xml }
    }
}

impl XmlElement {
    /// The same branch as a fragment (yrs's child-node methods are the same for both).
    fn fragment_ref(&self) -> XmlFragmentRef {
        AsRef::<XmlFragmentRef>::as_ref(&self.xml).clone()
    }
}

observable!(XmlElement, XmlElement, xml);
xml_children!(XmlElement, XmlElement);

#[wasm_bindgen]
impl XmlElement {
    /// The element's name.
    #[wasm_bindgen(getter, js_name = nodeName)]
    pub fn node_name(&self) -> String {
        self.xml.tag().to_string()
    }

    /// Sets an attribute.
    #[wasm_bindgen(js_name = setAttribute)]
    pub fn set_attribute(&self, name: StringArg, value: StringArg) -> ApiResult<()> {
        let (name, value) = (string(&name, "name")?, string(&value, "value")?);
        self.shared.edit(|txn| {
            self.xml.insert_attribute(txn, name, value);
            Ok(())
        })
    }

    /// An attribute's value, or undefined.
    #[wasm_bindgen(js_name = getAttribute)]
    pub fn get_attribute(&self, name: StringArg) -> ApiResult<Option<String>> {
        let name = string(&name, "name")?;
        let txn = self.shared.read()?;
        Ok(self
            .xml
            .get_attribute(&txn, &name)
            .map(|o| o.to_string(&txn)))
    }

    /// Removes an attribute.
    #[wasm_bindgen(js_name = removeAttribute)]
    pub fn remove_attribute(&self, name: StringArg) -> ApiResult<()> {
        let name = string(&name, "name")?;
        self.shared.edit(|txn| {
            self.xml.remove_attribute(txn, &name);
            Ok(())
        })
    }

    /// All attributes as a plain object.
    #[wasm_bindgen(js_name = getAttributes, unchecked_return_type = "{ [name: string]: string }")]
    pub fn get_attributes(&self) -> ApiResult<JsValue> {
        let txn = self.shared.read()?;
        let o = js_sys::Object::new();
        for (k, v) in self.xml.attributes(&txn) {
            let _ = js_sys::Reflect::set(&o, &k.into(), &v.to_string(&txn).into());
        }
        Ok(o.into())
    }
}

/// A shared XML text node (`Y.XmlText`): formatted text inside XML.
#[wasm_bindgen]
pub struct XmlText {
    shared: Rc<DocShared>,
    text: XmlTextRef,
}

impl XmlText {
    pub(crate) fn new(shared: Rc<DocShared>, text: XmlTextRef) -> Self {
        XmlText { shared, text }
    }
}

impl XmlText {
    /// The same branch as a plain text (yrs's text methods are the same for both).
    fn text_ref(&self) -> TextRef {
        AsRef::<TextRef>::as_ref(&self.text).clone()
    }
}

observable!(XmlText, XmlText, text);
text_methods!(XmlText, XmlText);

/// An XML child read from the document, as its wrapper.
fn xml_out_to_js(shared: &Rc<DocShared>, o: XmlOut) -> JsValue {
    wrap_new(
        shared,
        match o {
            XmlOut::Element(x) => Out::YXmlElement(x),
            XmlOut::Fragment(x) => Out::YXmlFragment(x),
            XmlOut::Text(x) => Out::YXmlText(x),
        },
    )
}
