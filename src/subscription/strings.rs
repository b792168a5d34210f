//! The words of the subscription pages, in Vietnamese and English.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Vi,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Strings {
    pub check_mail_title: &'static str,
    /// `{email}` is replaced (the address as typed: a typo shows).
    pub check_mail_message: &'static str,
    /// Added to it when the provider looks mistyped; `{email}` is replaced
    /// by the address most likely meant.
    pub typo_hint: &'static str,
    pub bad_address_title: &'static str,
    pub bad_address_message: &'static str,
    pub rate_title: &'static str,
    pub rate_message: &'static str,
    pub forbidden_title: &'static str,
    pub forbidden_message: &'static str,
    pub confirm_title: &'static str,
    /// `{email}` is replaced by the address.
    pub confirm_message: &'static str,
    pub confirm_button: &'static str,
    pub confirmed_title: &'static str,
    pub confirmed_message: &'static str,
    pub invalid_link_title: &'static str,
    pub invalid_link_message: &'static str,
    pub unsubscribe_title: &'static str,
    /// `{email}` is replaced by the address.
    pub unsubscribe_message: &'static str,
    pub unsubscribe_button: &'static str,
    pub unsubscribed_title: &'static str,
    pub unsubscribed_message: &'static str,
    pub preferences_title: &'static str,
    pub preferences_message: &'static str,
    pub topics_legend: &'static str,
    pub frequency_legend: &'static str,
    pub daily: &'static str,
    pub weekly: &'static str,
    pub instant: &'static str,
    pub save_button: &'static str,
    pub saved_title: &'static str,
    pub saved_message: &'static str,
    pub rejoined_title: &'static str,
    pub rejoined_message: &'static str,
    /// The unsubscribed page's way back (to the preferences page).
    pub again_link: &'static str,
    pub error_title: &'static str,
    pub error_message: &'static str,
    pub manage_title: &'static str,
    pub manage_message: &'static str,
    pub email_label: &'static str,
    pub manage_button: &'static str,
    pub manage_sent_title: &'static str,
    /// `{email}`: the address as typed.
    pub manage_sent_message: &'static str,
    /// After it when the provider looks mistyped; `{email}`: the address meant.
    pub manage_typo_hint: &'static str,
    pub leave_legend: &'static str,
    pub leave_message: &'static str,
    pub leave_button: &'static str,
    /// `{email}`, `{frequency}` and `{topics}` are replaced.
    pub preferences_now: &'static str,
    /// The same for an address that receives nothing now (`{email}`).
    pub preferences_none: &'static str,
    /// The preferences page of one who unsubscribed: saving brings them back.
    pub preferences_left: &'static str,
    pub all_topics: &'static str,
}

const VI: Strings = Strings {
    check_mail_title: "Vui lòng kiểm tra hộp thư",
    check_mail_message: "Chúng tôi đã gửi một thư tới {email} (nếu cần). Hãy bấm liên kết trong thư để bắt đầu nhận bản tin, hoặc để đổi tùy chọn nếu địa chỉ này đã đăng ký.",
    typo_hint: "Có phải ý bạn là {email}? Nếu vậy, hãy đăng ký lại với địa chỉ đó.",
    bad_address_title: "Địa chỉ thư không hợp lệ",
    bad_address_message: "Vui lòng nhập một địa chỉ thư điện tử, ví dụ ten@example.vn.",
    rate_title: "Quá nhiều yêu cầu",
    rate_message: "Bạn đã gửi quá nhiều yêu cầu. Vui lòng thử lại sau.",
    forbidden_title: "Yêu cầu bị từ chối",
    forbidden_message: "Biểu mẫu đăng ký chỉ gửi được từ trang của chúng tôi. Vui lòng đăng ký trên trang chủ.",
    confirm_title: "Xác nhận đăng ký",
    confirm_message: "Bấm nút dưới đây để bắt đầu nhận bản tin tại địa chỉ {email}.",
    confirm_button: "Xác nhận",
    confirmed_title: "Đăng ký thành công",
    confirmed_message: "Cảm ơn bạn!",
    invalid_link_title: "Liên kết không hợp lệ",
    invalid_link_message: "Liên kết đã hết hạn hoặc không đúng. Bạn có thể đăng ký lại trên trang chủ.",
    unsubscribe_title: "Hủy đăng ký bản tin",
    unsubscribe_message: "Bấm nút dưới đây để ngừng nhận bản tin tại địa chỉ {email}.",
    unsubscribe_button: "Hủy đăng ký",
    unsubscribed_title: "Đã hủy đăng ký",
    unsubscribed_message: "Bạn sẽ không nhận bản tin nữa.",
    preferences_title: "Tùy chọn bản tin",
    preferences_message: "Chọn chuyên mục (không chọn mục nào để nhận tất cả) và tần suất nhận thư.",
    topics_legend: "Chuyên mục",
    frequency_legend: "Tần suất",
    daily: "Hằng ngày",
    weekly: "Hằng tuần",
    instant: "Ngay khi có bài mới",
    save_button: "Lưu",
    saved_title: "Đã lưu",
    saved_message: "Tùy chọn của bạn đã được cập nhật.",
    rejoined_title: "Đã đăng ký lại",
    rejoined_message: "Bạn sẽ nhận lại bản tin với các lựa chọn này.",
    again_link: "Hủy nhầm? Đăng ký lại",
    error_title: "Có lỗi xảy ra",
    error_message: "Hệ thống đang bận. Vui lòng thử lại sau ít phút.",
    manage_title: "Quản lý đăng ký",
    manage_message: "Nhập địa chỉ thư bạn đã đăng ký. Chúng tôi sẽ gửi tới đó liên kết để đổi chuyên mục, tần suất hoặc hủy đăng ký.",
    email_label: "Địa chỉ thư điện tử",
    manage_button: "Gửi liên kết",
    manage_sent_title: "Vui lòng kiểm tra hộp thư",
    manage_sent_message: "Nếu {email} đang nhận bản tin, chúng tôi đã gửi tới địa chỉ đó một thư có liên kết quản lý đăng ký.",
    manage_typo_hint: "Có phải ý bạn là {email}? Nếu vậy, hãy gửi lại với địa chỉ đó.",
    leave_legend: "Hủy mọi đăng ký",
    leave_message: "Không muốn nhận bản tin nữa? Bạn có thể hủy đăng ký ngay.",
    leave_button: "Hủy đăng ký tất cả",
    preferences_now: "Địa chỉ {email} đang nhận bản tin {frequency}, chuyên mục: {topics}.",
    preferences_none: "Địa chỉ {email} hiện không nhận bản tin.",
    preferences_left: "Địa chỉ {email} đã hủy đăng ký; lưu các lựa chọn dưới đây để nhận lại bản tin.",
    all_topics: "tất cả",
};

const EN: Strings = Strings {
    check_mail_title: "Please check your inbox",
    check_mail_message: "We have sent a message to {email} (if it needs one). Click the link in it to start receiving the newsletter, or to change your choices if this address is subscribed already.",
    typo_hint: "Did you mean {email}? If so, sign up again with that address.",
    bad_address_title: "Invalid e-mail address",
    bad_address_message: "Please enter an e-mail address, such as name@example.org.",
    rate_title: "Too many requests",
    rate_message: "You have sent too many requests. Please try again later.",
    forbidden_title: "Request refused",
    forbidden_message: "The sign-up form can only be sent from our own pages. Please subscribe on the home page.",
    confirm_title: "Confirm your subscription",
    confirm_message: "Press the button below to start receiving the newsletter at {email}.",
    confirm_button: "Confirm",
    confirmed_title: "Subscription confirmed",
    confirmed_message: "Thank you!",
    invalid_link_title: "Invalid link",
    invalid_link_message: "The link has expired or is not right. You can subscribe again on the home page.",
    unsubscribe_title: "Unsubscribe",
    unsubscribe_message: "Press the button below to stop the newsletter to {email}.",
    unsubscribe_button: "Unsubscribe",
    unsubscribed_title: "Unsubscribed",
    unsubscribed_message: "You will not receive the newsletter any more.",
    preferences_title: "Newsletter preferences",
    preferences_message: "Choose categories (none for everything) and how often to receive mail.",
    topics_legend: "Categories",
    frequency_legend: "Frequency",
    daily: "Daily",
    weekly: "Weekly",
    instant: "As soon as published",
    save_button: "Save",
    saved_title: "Saved",
    saved_message: "Your preferences have been updated.",
    rejoined_title: "Subscribed again",
    rejoined_message: "You will receive the newsletter again, with these choices.",
    again_link: "Unsubscribed by mistake? Subscribe again",
    error_title: "Something went wrong",
    error_message: "The service is busy. Please try again in a few minutes.",
    manage_title: "Manage your subscription",
    manage_message: "Type the address you subscribed with. We will mail it a link to change its categories or frequency, or to unsubscribe.",
    email_label: "E-mail address",
    manage_button: "Send the link",
    manage_sent_title: "Please check your inbox",
    manage_sent_message: "If {email} receives the newsletter, we have sent it a message with the link to manage the subscription.",
    manage_typo_hint: "Did you mean {email}? If so, ask again with that address.",
    leave_legend: "Unsubscribe from everything",
    leave_message: "No longer want the newsletter? You can stop it now.",
    leave_button: "Unsubscribe from everything",
    preferences_now: "{email} receives the {frequency} newsletter, categories: {topics}.",
    preferences_none: "{email} does not receive the newsletter now.",
    preferences_left: "{email} has unsubscribed; save the choices below to receive the newsletter again.",
    all_topics: "all",
};

pub fn get(lang: Lang) -> &'static Strings {
    match lang {
        Lang::Vi => &VI,
        Lang::En => &EN,
    }
}

/// The word for a frequency (`Frequency::as_str`) on the pages; one the
/// strings do not name is shown as it is called.
pub fn frequency<'a>(s: &Strings, name: &'a str) -> &'a str
where
    'static: 'a,
{
    match name {
        "daily" => s.daily,
        "weekly" => s.weekly,
        "instant" => s.instant,
        other => other,
    }
}
